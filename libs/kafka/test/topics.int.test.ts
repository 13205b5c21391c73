import { allTopics } from '@docintel/contracts';
import { createKafka, deleteTopics, ensureTopics, loadKafkaConfig } from '@docintel/kafka';
import { testLogger, uniqueSuffix } from '@docintel/testing';
import { ConfigResourceTypes, type Admin, type Kafka } from 'kafkajs';

const RETRY_TIERS = 1;

describe('ensureTopics against a real broker: the replication factor', () => {
  let kafka: Kafka;
  let admin: Admin;
  const prefixes: string[] = [];

  /** A prefix of this test's own, deleted after the file. */
  const newPrefix = () => {
    const prefix = `t-rf-${uniqueSuffix()}.`;
    prefixes.push(prefix);
    return prefix;
  };

  /** The replica count of every partition of every topic under the prefix, by topic. */
  const replicaCounts = async (prefix: string) => {
    const metadata = await admin.fetchTopicMetadata({ topics: allTopics(prefix, RETRY_TIERS) });
    return Object.fromEntries(metadata.topics.map((topic) => [topic.name, [...new Set(topic.partitions.map((p) => p.replicas.length))]]));
  };

  const everyTopicWith = (prefix: string, replicas: number) => Object.fromEntries(allTopics(prefix, RETRY_TIERS).map((topic) => [topic, [replicas]]));

  beforeAll(async () => {
    kafka = createKafka(loadKafkaConfig(process.env, `test-rf-${uniqueSuffix()}`), testLogger('kafka'));
    admin = kafka.admin();
    await admin.connect();
  });

  afterAll(async () => {
    try {
      for (const prefix of prefixes) await deleteTopics(admin, prefix, RETRY_TIERS);
    } finally {
      await admin.disconnect();
    }
  });

  test('unset: new topics get the broker\'s default.replication.factor', async () => {
    const { brokers } = await admin.describeCluster();
    const broker = String(brokers[0]!.nodeId);
    const described = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.BROKER, name: broker, configNames: ['default.replication.factor'] }],
    });
    const entry = described.resources[0]!.configEntries.find((config) => config.configName === 'default.replication.factor');
    const brokerDefault = Number(entry?.configValue);
    expect(brokerDefault).toBeGreaterThanOrEqual(1);

    const prefix = newPrefix();
    const result = await ensureTopics(admin, { prefix, partitions: 2, retryTiers: RETRY_TIERS });
    expect(result.created.sort()).toEqual(allTopics(prefix, RETRY_TIERS).sort());
    expect(await replicaCounts(prefix)).toEqual(everyTopicWith(prefix, brokerDefault));
  });

  test('set: new topics get exactly that many replicas', async () => {
    const prefix = newPrefix();
    await ensureTopics(admin, { prefix, partitions: 2, retryTiers: RETRY_TIERS, replicationFactor: 1 });
    expect(await replicaCounts(prefix)).toEqual(everyTopicWith(prefix, 1));
  });

  test('set above the number of brokers: the broker refuses it, so the factor is not replaced on the way', async () => {
    const { brokers } = await admin.describeCluster();
    const prefix = newPrefix();
    await expect(ensureTopics(admin, { prefix, partitions: 1, retryTiers: RETRY_TIERS, replicationFactor: brokers.length + 1 })).rejects.toMatchObject({
      errors: expect.arrayContaining([expect.objectContaining({ type: 'INVALID_REPLICATION_FACTOR' })]),
    });
    expect((await admin.listTopics()).filter((topic) => topic.startsWith(prefix))).toEqual([]);
  });
});
