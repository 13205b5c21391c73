/**
 * The broker's own ceiling on this machine for records of a given size: Kafka's ProducerPerformance
 * and ConsumerPerformance (from the kafka-tools jars, through deploy/kafka/console.sh), on a topic
 * with the pipeline's partition count, acks=all like the pipeline's producers.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { ROOT } from '@docintel/cli';
import type { Admin } from 'kafkajs';

export interface Ceiling {
  recordBytes: number;
  records: number;
  producerRecordsPerSecond: number;
  producerMBps: number;
  consumerRecordsPerSecond: number;
  consumerMBps: number;
}

function tool(args: string[]): string {
  return execFileSync('bash', [path.join(ROOT, 'deploy', 'kafka', 'console.sh'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
}

export async function brokerCeiling(options: { prefix: string; recordBytes: number; records: number; partitions: number; admin: Admin }): Promise<Ceiling> {
  const topic = `${options.prefix}ceiling`;
  await options.admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: options.partitions, replicationFactor: 1 }] });
  try {
    // "20000 records sent, 6031.2 records/sec (189.58 MB/sec), ..."
    const produced = tool([
      'producer-perf',
      '--topic', topic,
      '--num-records', String(options.records),
      '--record-size', String(options.recordBytes),
      '--throughput', '-1',
      '--producer-props', 'acks=all', 'linger.ms=5',
    ]);
    const summary = produced.trim().split('\n').pop() ?? '';
    const producer = /([\d.]+) records\/sec \(([\d.]+) MB\/sec\)/.exec(summary);
    if (!producer) throw new Error(`unexpected ProducerPerformance output: ${summary}`);
    // CSV: start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, ...
    const consumed = tool(['consumer-perf', '--topic', topic, '--num-records', String(options.records), '--timeout', '60000']);
    const line = consumed.trim().split('\n').pop() ?? '';
    const cells = line.split(',').map((cell) => cell.trim());
    const consumerMBps = Number(cells[3]);
    const consumerRecords = Number(cells[5]);
    if (!Number.isFinite(consumerMBps) || !Number.isFinite(consumerRecords)) throw new Error(`unexpected ConsumerPerformance output: ${line}`);
    return {
      recordBytes: options.recordBytes,
      records: options.records,
      producerRecordsPerSecond: Math.round(Number(producer[1])),
      producerMBps: Number(producer[2]),
      consumerRecordsPerSecond: Math.round(consumerRecords),
      consumerMBps,
    };
  } finally {
    await options.admin.deleteTopics({ topics: [topic] });
  }
}
