import { createLogger, type Logger } from '@docintel/core';
import { createKafka, deleteTopics, ensureTopics, loadKafkaConfig, type KafkaConfig } from '@docintel/kafka';
import { readHeaders, type HeaderMap } from '@docintel/contracts';
import { Partitioners, type Kafka, type KafkaMessage } from 'kafkajs';
import { eventually, uniqueSuffix } from './eventually';

/** A quiet logger for test processes (errors only, unless TEST_LOG_LEVEL says otherwise). */
export function testLogger(service = 'test'): Logger {
  const logger = createLogger({ service, level: process.env.TEST_LOG_LEVEL ?? 'error' });
  // Expected failures (dead letters, retries) would bury jest's output; TEST_LOG_LEVEL shows them.
  logger.silent = process.env.TEST_LOG_LEVEL === undefined;
  return logger;
}

export interface TestTopics {
  prefix: string;
  config: KafkaConfig;
  kafka: Kafka;
  /** Deletes every topic under the prefix. */
  cleanup(): Promise<void>;
}

/**
 * Creates the design's topics under a prefix of their own (e.g. `t-lq3x9a.`), so each test has
 * its own topics and, by deriving group ids from the prefix, its own consumer groups.
 */
export async function createTestTopics(options: { partitions?: number; retryTiers?: number } = {}): Promise<TestTopics> {
  const prefix = `t-${uniqueSuffix()}.`;
  const config = loadKafkaConfig({ ...process.env, TOPIC_PREFIX: prefix }, `test-${prefix}`);
  const kafka = createKafka(config, testLogger('kafka'));
  const admin = kafka.admin();
  await admin.connect();
  try {
    await ensureTopics(admin, { prefix, partitions: options.partitions ?? 3, retryTiers: options.retryTiers ?? 3 });
  } finally {
    await admin.disconnect();
  }
  return {
    prefix,
    config,
    kafka,
    cleanup: async () => {
      const cleanupAdmin = kafka.admin();
      await cleanupAdmin.connect();
      try {
        await deleteTopics(cleanupAdmin, prefix, options.retryTiers ?? 3);
      } finally {
        await cleanupAdmin.disconnect();
      }
    },
  };
}

export interface ReadMessage {
  topic: string;
  partition: number;
  offset: string;
  key: string | undefined;
  value: string;
  headers: HeaderMap;
}

/**
 * Reads every message currently in a topic (all partitions, from the beginning up to the high
 * watermarks taken at the call) without a consumer group.
 */
export async function readTopic(kafka: Kafka, topic: string): Promise<ReadMessage[]> {
  const admin = kafka.admin();
  await admin.connect();
  let ends: Array<{ partition: number; offset: string; low: string }>;
  try {
    // A topic created a moment ago may not have its leaders known to every broker yet.
    const offsets = await eventually(() => admin.fetchTopicOffsets(topic), { timeoutMs: 15_000, intervalMs: 250 });
    ends = offsets.map((p) => ({ partition: p.partition, offset: p.high, low: p.low }));
  } finally {
    await admin.disconnect();
  }
  const wanted = ends.filter((end) => BigInt(end.offset) > BigInt(end.low));
  if (wanted.length === 0) return [];
  const consumer = kafka.consumer({ groupId: `reader-${uniqueSuffix()}` });
  const out: ReadMessage[] = [];
  const remaining = new Map(wanted.map((end) => [end.partition, BigInt(end.offset)]));
  await consumer.connect();
  try {
    await new Promise<void>((resolve, reject) => {
      consumer.subscribe({ topics: [topic], fromBeginning: true }).then(
        () =>
          consumer.run({
            autoCommit: false,
            eachMessage: async ({ partition, message }) => {
              const end = remaining.get(partition);
              if (end === undefined) return;
              if (BigInt(message.offset) < end) out.push(readMessage(topic, partition, message));
              if (BigInt(message.offset) + 1n >= end) remaining.delete(partition);
              if (remaining.size === 0) resolve();
            },
          }),
        reject,
      );
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

function readMessage(topic: string, partition: number, message: KafkaMessage): ReadMessage {
  return { topic, partition, offset: message.offset, key: message.key?.toString(), value: message.value?.toString() ?? '', headers: readHeaders(message.headers) };
}

export interface FollowedTopics {
  /** Every message read so far, in the order read (per partition, in offset order). */
  readonly messages: readonly ReadMessage[];
  stop(): Promise<void>;
}

/**
 * Follows topics from their beginning for as long as a test runs, without committing anything
 * (a throwaway consumer group): what {@link readTopic} reads once, as it arrives. Resolves once
 * the consumer has joined its group and been given the partitions.
 */
export async function followTopics(kafka: Kafka, topics: string[]): Promise<FollowedTopics> {
  const messages: ReadMessage[] = [];
  const consumer = kafka.consumer({ groupId: `follower-${uniqueSuffix()}`, maxWaitTimeInMs: 250 });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ topic, partition, message }) => {
        messages.push(readMessage(topic, partition, message));
      },
    });
    await joined;
  } catch (error) {
    await consumer.disconnect();
    throw error;
  }
  return { messages, stop: () => consumer.disconnect() };
}

/** The services' partitioner (kafkajs' DefaultPartitioner, murmur2 as Java's): the partition a key lands on. */
export function partitionOf(key: string, partitions: number): number {
  const partitioner = Partitioners.DefaultPartitioner();
  return partitioner({
    topic: 'any',
    partitionMetadata: Array.from({ length: partitions }, (_, partitionId) => ({ partitionId, leader: 0, replicas: [0], isr: [0], partitionErrorCode: 0 })),
    message: { key, value: null },
  });
}
