import { createRequire } from 'node:module';
import { allTopics } from '@docintel/contracts';
import { BROKER_DEFAULT_REPLICATION_FACTOR, ensureTopics, type EnsureTopicsOptions } from '@docintel/kafka';
import type { Admin, ITopicConfig } from 'kafkajs';

/** kafkajs' own CreateTopics request encoders (v0 to v3, all it has), as its broker connection uses them. */
interface CreateTopicsProtocol {
  versions: string[];
  protocol(options: { version: number }): (request: { topics: ITopicConfig[]; validateOnly?: boolean; timeout?: number }) => {
    request: { apiVersion: number; encode(): Promise<{ buffer: Buffer }> };
  };
}
const createTopicsProtocol = createRequire(require.resolve('kafkajs'))('./src/protocol/requests/createTopics') as CreateTopicsProtocol;

interface WireTopic {
  topic: string;
  numPartitions: number;
  replicationFactor: number;
}

/** Reads the topics back out of a CreateTopics v0-v3 request body (the layout is the same in all four). */
function decodeTopics(buffer: Buffer): WireTopic[] {
  let at = 0;
  const int16 = () => ((at += 2), buffer.readInt16BE(at - 2));
  const int32 = () => ((at += 4), buffer.readInt32BE(at - 4));
  const string = () => {
    const length = int16();
    if (length < 0) return '';
    at += length;
    return buffer.toString('utf8', at - length, at);
  };
  const topics: WireTopic[] = [];
  for (let count = int32(); count > 0; count--) {
    const topic = string();
    const numPartitions = int32();
    const replicationFactor = int16();
    for (let assignments = int32(); assignments > 0; assignments--) {
      int32();
      for (let replicas = int32(); replicas > 0; replicas--) int32();
    }
    for (let configs = int32(); configs > 0; configs--) {
      string();
      string();
    }
    topics.push({ topic, numPartitions, replicationFactor });
  }
  return topics;
}

/** An Admin that has no topics, records createTopics and reports a leader for every partition. */
function fakeAdmin() {
  const requests: Array<{ topics: ITopicConfig[] }> = [];
  const admin = {
    listTopics: async () => [],
    createTopics: async (request: { topics: ITopicConfig[] }) => {
      requests.push(request);
      return true;
    },
    fetchTopicMetadata: async ({ topics }: { topics: string[] }) => ({
      topics: topics.map((name) => ({ name, partitions: [{ partitionId: 0, leader: 1, replicas: [1], isr: [1] }] })),
    }),
  };
  return { admin: admin as unknown as Admin, requests };
}

async function createdWith(options: Partial<EnsureTopicsOptions>): Promise<ITopicConfig[]> {
  const { admin, requests } = fakeAdmin();
  await ensureTopics(admin, { prefix: 'unit.', partitions: 6, retryTiers: 1, ...options });
  expect(requests).toHaveLength(1);
  return requests[0]!.topics;
}

/** What goes on the wire for those topics, in every CreateTopics version kafkajs may pick. */
async function onTheWire(topics: ITopicConfig[]): Promise<Map<number, WireTopic[]>> {
  const byVersion = new Map<number, WireTopic[]>();
  for (const version of createTopicsProtocol.versions.map(Number)) {
    const { request } = createTopicsProtocol.protocol({ version })({ topics, validateOnly: false, timeout: 5000 });
    byVersion.set(request.apiVersion, decodeTopics((await request.encode()).buffer));
  }
  return byVersion;
}

describe('ensureTopics: the replication factor of new topics', () => {
  test('kafkajs encodes CreateTopics v0 to v3', () => {
    expect(createTopicsProtocol.versions).toEqual(['0', '1', '2', '3']);
  });

  test('unset: -1, the broker\'s default.replication.factor, goes on the wire for every topic', async () => {
    const topics = await createdWith({});
    expect(topics.map((topic) => topic.topic).sort()).toEqual(allTopics('unit.', 1).sort());
    expect(topics.every((topic) => topic.replicationFactor === BROKER_DEFAULT_REPLICATION_FACTOR)).toBe(true);
    const wire = await onTheWire(topics);
    expect([...wire.keys()]).toEqual([0, 1, 2, 3]);
    for (const [version, decoded] of wire) {
      expect({ version, topics: decoded }).toEqual({
        version,
        topics: topics.map((topic) => ({ topic: topic.topic, numPartitions: 6, replicationFactor: -1 })),
      });
    }
  });

  test.each([1, 3])('set to %i: exactly that goes on the wire', async (factor) => {
    const topics = await createdWith({ replicationFactor: factor });
    for (const decoded of (await onTheWire(topics)).values()) {
      expect(decoded.map((topic) => topic.replicationFactor)).toEqual(topics.map(() => factor));
    }
  });
});
