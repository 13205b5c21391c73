import { topicNames } from '@docintel/contracts';
import { createProducer, scanTopic } from '@docintel/kafka';
import { createTestTopics, type TestTopics } from '@docintel/testing';

describe('scanTopic', () => {
  let topics: TestTopics;
  beforeAll(async () => {
    topics = await createTestTopics({ partitions: 2 });
  });
  afterAll(() => topics.cleanup());

  it('reads a topic in a throwaway group under the deployment prefix, and commits nothing', async () => {
    const topic = topicNames(topics.prefix).ingest;
    const producer = createProducer(topics.kafka);
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: 'acme', value: 'one' }, { key: 'acme', value: 'two' }] });
    await producer.disconnect();

    const admin = topics.kafka.admin();
    await admin.connect();
    try {
      const groupsDuringScan: string[] = [];
      const values: string[] = [];
      const seen = await scanTopic(topics.kafka, topic, {
        groupPrefix: topics.prefix,
        onMessage: async (message) => {
          values.push(message.value!.toString());
          if (groupsDuringScan.length === 0) groupsDuringScan.push(...(await admin.listGroups()).groups.map((group) => group.groupId));
        },
      });
      expect(seen).toBe(2);
      expect(values).toEqual(['one', 'two']);
      // the scan's group is under the prefix (groups of other scans, other tests', linger empty)
      const scanGroups = groupsDuringScan.filter((group) => group.startsWith(`${topics.prefix}docintel-scan-`));
      expect(scanGroups).toHaveLength(1);
      // nothing committed: the group holds no offsets for the topic
      const offsets = await admin.fetchOffsets({ groupId: scanGroups[0]!, topics: [topic] });
      expect(offsets.flatMap((entry) => entry.partitions.map((p) => p.offset))).toEqual(['-1', '-1']);
    } finally {
      await admin.disconnect();
    }
  });
});
