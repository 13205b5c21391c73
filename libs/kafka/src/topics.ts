import { allTopics } from '@docintel/contracts';
import type { Admin } from 'kafkajs';

export interface EnsureTopicsOptions {
  prefix: string;
  /** @default 12 */
  partitions?: number;
  /**
   * Replicas of every new topic.
   * @default the broker's `default.replication.factor` (-1 in the CreateTopics request; Kafka 2.4+)
   */
  replicationFactor?: number;
  /** Retry tiers per topic. @default 3 */
  retryTiers?: number;
}

/**
 * CreateTopics' "use the broker's default.replication.factor" (KIP-464, Kafka 2.4+). Sent
 * explicitly rather than by leaving the field out, so it does not depend on the client's default.
 */
export const BROKER_DEFAULT_REPLICATION_FACTOR = -1;

export interface EnsureTopicsResult {
  created: string[];
  existing: string[];
  /** Existing topics that had fewer partitions than asked and were grown. */
  grown: string[];
}

/**
 * Creates every topic of the design that is missing; safe to run twice. Retry and DLQ topics get
 * the partition count of their source so a tenant keeps one partition through every tier. New
 * topics get the broker's default replication factor unless `replicationFactor` is set; existing
 * topics keep theirs.
 */
export async function ensureTopics(admin: Admin, options: EnsureTopicsOptions): Promise<EnsureTopicsResult> {
  const partitions = options.partitions ?? 12;
  const wanted = allTopics(options.prefix, options.retryTiers ?? 3);
  const present = new Set(await admin.listTopics());
  const missing = wanted.filter((topic) => !present.has(topic));
  if (missing.length > 0) {
    await admin.createTopics({
      // kafkajs' own wait retries only LEADER_NOT_AVAILABLE; Kafka 4 may also answer
      // UNKNOWN_TOPIC_OR_PARTITION for a moment after creation, so we wait ourselves below.
      waitForLeaders: false,
      topics: missing.map((topic) => ({
        topic,
        numPartitions: partitions,
        replicationFactor: options.replicationFactor ?? BROKER_DEFAULT_REPLICATION_FACTOR,
        configEntries: topic.endsWith('.dlq') ? [{ name: 'retention.ms', value: String(30 * 24 * 3600 * 1000) }] : [],
      })),
    });
  }
  if (missing.length > 0) await waitForLeaders(admin, missing);
  const existing = wanted.filter((topic) => present.has(topic));
  const grown: string[] = [];
  if (existing.length > 0) {
    const metadata = await admin.fetchTopicMetadata({ topics: existing });
    const small = metadata.topics.filter((topic) => topic.partitions.length < partitions);
    if (small.length > 0) {
      await admin.createPartitions({ topicPartitions: small.map((topic) => ({ topic: topic.name, count: partitions })) });
      grown.push(...small.map((topic) => topic.name));
    }
  }
  return { created: missing, existing, grown };
}

/** Deletes every topic of the design under a prefix (tests clean up with this). */
export async function deleteTopics(admin: Admin, prefix: string, retryTiers = 3): Promise<void> {
  const present = new Set(await admin.listTopics());
  const topics = allTopics(prefix, retryTiers).filter((topic) => present.has(topic));
  if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 30_000 });
}

const SETTLING = new Set(['UNKNOWN_TOPIC_OR_PARTITION', 'LEADER_NOT_AVAILABLE', 'NOT_LEADER_FOR_PARTITION', 'NOT_LEADER_OR_FOLLOWER']);

/** Waits until every partition of the new topics has a leader the broker reports. */
async function waitForLeaders(admin: Admin, topics: string[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const metadata = await admin.fetchTopicMetadata({ topics });
      if (metadata.topics.every((topic) => topic.partitions.length > 0 && topic.partitions.every((p) => p.leader >= 0))) return;
    } catch (error) {
      if (!SETTLING.has((error as { type?: string }).type ?? '') || Date.now() > deadline) throw error;
    }
    if (Date.now() > deadline) throw new Error(`topics have no leaders after ${timeoutMs} ms: ${topics.slice(0, 3).join(', ')}...`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
