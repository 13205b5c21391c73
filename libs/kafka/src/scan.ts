import { randomUUID } from 'node:crypto';
import { readHeaders, type HeaderMap } from '@docintel/contracts';
import { retrying } from '@docintel/core';
import type { Kafka } from 'kafkajs';

export interface ScannedMessage {
  topic: string;
  partition: number;
  offset: string;
  /** Epoch milliseconds, as the broker recorded it. */
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: HeaderMap;
}

export interface ScanOptions {
  /**
   * Put in front of the scan's throwaway consumer group (the deployment's `TOPIC_PREFIX`), so that
   * ACLs scoped to the prefix allow it. @default ''
   */
  groupPrefix?: string;
  /** Only these partitions. */
  partitions?: number[];
  /** Start at this offset (inclusive) in every scanned partition. */
  fromOffset?: bigint;
  /** Stop after this offset (inclusive). */
  toOffset?: bigint;
  /** Stop once the callback has returned `false`. */
  onMessage: (message: ScannedMessage) => boolean | void | Promise<boolean | void>;
}

/** The consumer group of one scan: `<prefix>docintel-scan-<uuid>`, never committed to. */
export function scanGroupId(prefix = ''): string {
  return `${prefix}docintel-scan-${randomUUID()}`;
}

/**
 * Reads a topic from its start (or `fromOffset`) up to the high watermarks taken when the scan
 * begins, without committing anything: a throwaway consumer group that is never stored.
 */
export async function scanTopic(kafka: Kafka, topic: string, options: ScanOptions): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  let offsets: Array<{ partition: number; high: string; low: string }>;
  try {
    // A partition whose leadership just moved (or was just created) answers NOT_LEADER for a moment.
    offsets = await retrying(() => admin.fetchTopicOffsets(topic), { attempts: 5, baseDelayMs: 200 });
  } finally {
    await admin.disconnect();
  }
  const ends = new Map<number, bigint>();
  for (const { partition, high, low } of offsets) {
    if (options.partitions && !options.partitions.includes(partition)) continue;
    const start = options.fromOffset !== undefined && options.fromOffset > BigInt(low) ? options.fromOffset : BigInt(low);
    const end = options.toOffset !== undefined && options.toOffset + 1n < BigInt(high) ? options.toOffset + 1n : BigInt(high);
    if (end > start) ends.set(partition, end);
  }
  if (ends.size === 0) return 0;

  const consumer = kafka.consumer({ groupId: scanGroupId(options.groupPrefix), maxWaitTimeInMs: 500 });
  let seen = 0;
  let stopped = false;
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachBatchAutoResolve: true,
          eachBatch: async ({ batch }) => {
            const end = ends.get(batch.partition);
            for (const message of batch.messages) {
              if (stopped || end === undefined) break;
              const offset = BigInt(message.offset);
              if (offset >= end) break;
              if (options.fromOffset !== undefined && offset < options.fromOffset) continue;
              seen += 1;
              const keep = await options.onMessage({
                topic,
                partition: batch.partition,
                offset: message.offset,
                timestamp: Number(message.timestamp),
                key: message.key,
                value: message.value,
                headers: readHeaders(message.headers),
              });
              if (keep === false) stopped = true;
              if (offset + 1n >= end) ends.delete(batch.partition);
            }
            if (stopped || ends.size === 0) resolve();
          },
        })
        .catch(reject);
      // Scanning starts at the beginning; seek where asked (kafkajs allows seek once run() started).
      if (options.fromOffset !== undefined) {
        for (const partition of ends.keys()) consumer.seek({ topic, partition, offset: options.fromOffset.toString() });
      }
    });
  } finally {
    await consumer.disconnect();
  }
  return seen;
}
