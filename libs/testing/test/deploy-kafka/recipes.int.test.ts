import { CliContext, run as cli } from '@docintel/cli';
import { HEADERS, dlqTopic, topicNames, type HeaderMap } from '@docintel/contracts';
import { createProducer, sendAll } from '@docintel/kafka';
import { createTestTopics, partitionOf, readTopic, uniqueSuffix, type TestTopics } from '@docintel/testing';
import { SECTION_TITLE, checkClients, readRecipes, readSection, runRecipe, type Recipe } from './recipes';

/**
 * The README's recipes for kcat and Kafka's console tools, run as written (only TOPIC_PREFIX comes
 * from this test) against the local broker, on topics of their own with dead letters put there by
 * hand the way the services write them.
 */
describe(`README: ${SECTION_TITLE.slice(3)}`, () => {
  const section = readSection();
  const recipes = readRecipes(section);
  const ran = new Set<string>();
  const suffix = uniqueSuffix();
  const partitions = 3;
  let topics: TestTopics;
  let env: NodeJS.ProcessEnv;
  let names: ReturnType<typeof topicNames>;
  let dlq: string;
  // a tenant whose messages the services' partitioner puts on partition 0, so that the dead letter
  // (same key, same partition count) is at 0:0, where the recipes look
  let tenant = `r${suffix.slice(-6)}`;
  for (let i = 1; partitionOf(tenant, partitions) !== 0; i++) tenant = `r${suffix.slice(-6)}-${i}`;
  const traceId = `trace-${suffix}`;
  let original: { partition: number; offset: string };
  const value = JSON.stringify({ tenantId: tenant, documentId: `${tenant}-doc-1`, version: 1, op: 'upsert' });
  let deadLetterHeaders: HeaderMap;

  const recipe = (name: string): Recipe => {
    const found = recipes.get(name);
    if (!found) throw new Error(`the README section has no recipe "${name}"`);
    checkClients(found);
    ran.add(name);
    return found;
  };
  const run = (name: string) => runRecipe(recipe(name), env);

  beforeAll(async () => {
    topics = await createTestTopics({ partitions });
    names = topicNames(topics.prefix);
    dlq = dlqTopic(names.ingest);
    env = { ...process.env, TOPIC_PREFIX: topics.prefix };
    const producer = createProducer(topics.kafka);
    await producer.connect();
    try {
      // The message as the CLI sends it...
      const [sent] = await producer.send({
        topic: names.ingest,
        acks: -1,
        messages: [{ key: tenant, value, headers: { [HEADERS.tenantId]: tenant, [HEADERS.traceId]: traceId, [HEADERS.schemaVersion]: '1' } }],
      });
      original = { partition: sent!.partition, offset: sent!.baseOffset! };
      // ...and its dead letter as the fetch service writes it after the last retry tier.
      deadLetterHeaders = {
        [HEADERS.tenantId]: tenant,
        [HEADERS.traceId]: traceId,
        [HEADERS.schemaVersion]: '1',
        [HEADERS.attempt]: '3',
        [HEADERS.firstFailedAt]: String(Date.now() - 60_000),
        [HEADERS.originalTopic]: names.ingest,
        [HEADERS.originalPartition]: String(original.partition),
        [HEADERS.originalOffset]: original.offset,
        [HEADERS.originalTimestamp]: String(Date.now() - 61_000),
        [HEADERS.originalGroup]: `${topics.prefix}docintel-fetch`,
        [HEADERS.errorCode]: 'DATABASE_UNAVAILABLE',
        [HEADERS.errorClass]: 'TransientError',
        [HEADERS.errorMessage]: 'connect ECONNREFUSED 127.0.0.1:5432: database unreachable, after 3 tries',
        [HEADERS.errorRetriable]: 'true',
      };
      await sendAll(producer, [{ topic: dlq, message: { key: tenant, value, headers: deadLetterHeaders } }]);
      // A second dead letter elsewhere, whose message is full of the separators the tools use.
      const other = `o${suffix.slice(-6)}`;
      await producer.send({
        topic: dlq,
        acks: -1,
        messages: [
          {
            partition: 1,
            key: other,
            value: '{"tenantId":',
            headers: {
              [HEADERS.tenantId]: other,
              [HEADERS.traceId]: `trace-other-${suffix}`,
              [HEADERS.schemaVersion]: '1',
              [HEADERS.errorCode]: 'INVALID_JSON',
              [HEADERS.errorClass]: 'PermanentError',
              [HEADERS.errorMessage]: 'value is not JSON: Unexpected end of JSON input, at position 12: tenant-id:x=y',
              [HEADERS.errorRetriable]: 'false',
            },
          },
        ],
      });
    } finally {
      await producer.disconnect();
    }
    expect(original.partition).toBe(0);
    const dead = await readTopic(topics.kafka, dlq);
    expect(dead.map((m) => `${m.partition}:${m.offset}`).sort()).toEqual(['0:0', '1:0']);
  });

  afterAll(async () => {
    const admin = topics?.kafka.admin();
    if (admin) {
      await admin.connect();
      const groups = ['fetch', 'embed', 'store', 'status'].map((service) => `${topics.prefix}docintel-${service}`);
      await admin.deleteGroups(groups).catch(() => undefined);
      await admin.disconnect();
    }
    await topics?.cleanup();
  });

  it('explains every header of the design', () => {
    const table = section.split('\n').filter((line) => line.startsWith('| `'));
    for (const name of Object.values(HEADERS)) {
      expect(table.some((line) => line.includes(`\`${name}\``))).toBe(true);
    }
    expect(table).toHaveLength(Object.values(HEADERS).length);
  });

  it('lists a DLQ with keys and headers', async () => {
    const kcat = (await run('kcat-list')).stdout;
    expect(kcat).toContain(`partition 0 offset 0 time`);
    expect(kcat).toContain(`key ${tenant}\nheaders tenant-id=${tenant},trace-id=${traceId},`);
    expect(kcat).toContain('x-error-code=DATABASE_UNAVAILABLE');
    expect(kcat).toContain(`x-original-topic=${names.ingest},x-original-partition=0,x-original-offset=${original.offset}`);
    expect(kcat).toContain(`value ${value}`);
    expect(kcat).toContain('x-error-code=INVALID_JSON');

    const consoleOut = (await run('console-list')).stdout;
    const lines = consoleOut.trim().split('\n').sort();
    expect(lines).toHaveLength(2);
    const [first, second] = lines.map((line) => line.split('\t'));
    expect(first!.slice(0, 2)).toEqual(['Partition:0', 'Offset:0']);
    expect(first![2]).toContain('x-error-code:DATABASE_UNAVAILABLE');
    expect(first!.slice(3)).toEqual([tenant, value]);
    expect(second![2]).toContain('x-error-code:INVALID_JSON');
  });

  it('shows one message at partition:offset', async () => {
    const kcat = (await run('kcat-show')).stdout;
    expect(kcat).toBe(
      `key ${tenant}\nheaders ${Object.entries(deadLetterHeaders).map(([name, v]) => `${name}=${v}`).join(',')}\nvalue ${value}\n`,
    );
    const consoleOut = (await run('console-show')).stdout;
    expect(consoleOut).toBe(`${Object.entries(deadLetterHeaders).map(([name, v]) => `${name}:${v}`).join(',')}\t${tenant}\t${value}\n`);
  });

  it('counts dead letters', async () => {
    expect((await run('kcat-count')).stdout.trim()).toBe('2');
    const counts = (await run('console-count')).stdout.trim().split('\n');
    const dlqs = [names.ingest, names.chunks, names.vectors, names.status].map(dlqTopic);
    expect(counts).toEqual(dlqs.map((topic) => `${topic} ${topic === dlq ? 2 : 0}`).sort());
  });

  it('replays one dead letter to its original topic with its key and the x-replayed-* headers, as docintel replay does', async () => {
    const before = Date.now();
    await run('kcat-replay');
    await run('console-replay');
    // ...and the CLI's replay of the same dead letter: one behaviour, whichever tool replays
    await cli(['replay', '--from', dlq, '--partition', '0', '--offsets', '0-0'], new CliContext(env, () => undefined));
    const after = Date.now();
    const messages = await readTopic(topics.kafka, names.ingest);
    const replayed = messages.filter((m) => m.headers[HEADERS.replayedFrom] !== undefined);
    expect(replayed).toHaveLength(3);
    for (const message of replayed) {
      // the tenant's partition, as the services' own partitioner chooses it
      expect(message.partition).toBe(original.partition);
      expect(message.key).toBe(tenant);
      expect(message.value).toBe(value);
      expect(message.headers[HEADERS.replayedFrom]).toBe(`${dlq}:0:0`);
      const at = Number(message.headers[HEADERS.replayedAt]);
      expect(at).toBeGreaterThanOrEqual(before - 1_000);
      expect(at).toBeLessThanOrEqual(after + 1_000);
      expect(message.headers).toEqual({
        [HEADERS.tenantId]: tenant,
        [HEADERS.traceId]: traceId,
        [HEADERS.schemaVersion]: '1',
        [HEADERS.replayedAt]: message.headers[HEADERS.replayedAt],
        [HEADERS.replayedFrom]: `${dlq}:0:0`,
      });
    }
  });

  it('shows consumer group lag', async () => {
    // The fetch group has processed the original message (offset 1 committed on its partition);
    // the other groups are at the start of their (empty) topics.
    const admin = topics.kafka.admin();
    await admin.connect();
    try {
      await admin.setOffsets({ groupId: `${topics.prefix}docintel-fetch`, topic: names.ingest, partitions: [{ partition: original.partition, offset: '1' }] });
      for (const [service, topic] of [['embed', names.chunks], ['store', names.vectors], ['status', names.status]] as const) {
        await admin.setOffsets({ groupId: `${topics.prefix}docintel-${service}`, topic, partitions: [{ partition: 0, offset: '0' }] });
      }
    } finally {
      await admin.disconnect();
    }
    const output = (await run('console-lag')).stdout;
    const rows = output.split('\n').map((line) => line.trim().split(/\s+/));
    // GROUP TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG ...: the three replayed copies are not processed yet
    expect(rows).toContainEqual(expect.arrayContaining([`${topics.prefix}docintel-fetch`, names.ingest, String(original.partition), '1', '4', '3']));
    expect(rows).toContainEqual(expect.arrayContaining([`${topics.prefix}docintel-status`, names.status, '0', '0', '0', '0']));
    for (const [service, topic] of [['embed', names.chunks], ['store', names.vectors]] as const) {
      expect(rows).toContainEqual(expect.arrayContaining([`${topics.prefix}docintel-${service}`, topic, '0', '0', '0', '0']));
    }
  });

  it('ran every recipe of the section', () => {
    expect([...ran].sort()).toEqual([...recipes.keys()].sort());
    expect(recipes.size).toBeGreaterThanOrEqual(9);
  });
});
