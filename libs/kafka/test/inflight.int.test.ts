import { TransientError, createConsumerMetrics, createRegistry } from '@docintel/core';
import { HEADERS, dlqTopic, ingestRequestSchema, topicNames, type IngestRequest } from '@docintel/contracts';
import { StageConsumer, createProducer, type InFlightStore } from '@docintel/kafka';
import { createInFlightStore, documentOf, failedStatusOnDeadLetter } from '@docintel/service';
import { createTestDatabase, createTestTopics, eventually, readTopic, testLogger, type TestDatabase, type TestTopics } from '@docintel/testing';
import type { Producer } from 'kafkajs';

describe('StageConsumer with an in-flight store (real broker, real PostgreSQL)', () => {
  let topics: TestTopics;
  let database: TestDatabase;
  let producer: Producer;
  let stage: StageConsumer<IngestRequest> | undefined;

  beforeEach(async () => {
    [topics, database] = await Promise.all([createTestTopics({ partitions: 1, retryTiers: 1 }), createTestDatabase()]);
    producer = createProducer(topics.kafka);
    await producer.connect();
  });

  afterEach(async () => {
    await stage?.stop();
    stage = undefined;
    await producer.disconnect();
    await Promise.all([topics.cleanup(), database.drop()]);
  });

  const send = (ids: string[]) =>
    producer.send({
      topic: topicNames(topics.prefix).ingest,
      messages: ids.map((id) => ({ key: 'acme', value: JSON.stringify({ tenantId: 'acme', documentId: id, version: 1 }) })),
    });

  const records = async () =>
    (await database.pool.query<{ kafka_offset: string; lives: number }>('select kafka_offset, lives from consumer_inflight order by kafka_offset')).rows;

  function consumer(groupId: string, inFlight: InFlightStore, handle: (message: IngestRequest) => Promise<void>): StageConsumer<IngestRequest> {
    const names = topicNames(topics.prefix);
    return new StageConsumer<IngestRequest>({
      kafka: topics.kafka,
      producer,
      logger: testLogger(),
      metrics: createConsumerMetrics(createRegistry('test')),
      topic: names.ingest,
      groupId,
      schema: ingestRequestSchema,
      retryDelaysMs: [200],
      inFlight,
      concurrency: 4,
      orderingKey: documentOf,
      handle: (message) => handle(message.value),
      onDeadLetter: failedStatusOnDeadLetter(names.status, 'fetch'),
    });
  }

  const batches = async () =>
    (await database.pool.query<{ group_id: string; first_offset: string; last_offset: string }>('select group_id, first_offset, last_offset from consumer_inflight_batches'))
      .rows;

  it('records a batch while it is handled and forgets it once committed', async () => {
    const groupId = `${topics.prefix}recorded`;
    const seen: Array<Awaited<ReturnType<typeof batches>>> = [];
    stage = consumer(groupId, createInFlightStore(database.pool), async () => {
      seen.push(await batches());
    });
    await send(['a', 'b', 'c']);
    await stage.start();
    await eventually(() => seen.length === 3, { description: 'three messages handled' });
    // While handled, the batch is recorded as the range of its offsets, and no message on its own.
    expect(seen).toEqual([0, 1, 2].map(() => [{ group_id: groupId, first_offset: '0', last_offset: '2' }]));
    await eventually(async () => (await batches()).length === 0, { description: 'the batch forgotten after the commit' });
    expect(await records()).toEqual([]);
  });

  it('dead-letters what earlier lives left in flight twice, unhandled, and handles the rest one at a time', async () => {
    const names = topicNames(topics.prefix);
    const groupId = `${topics.prefix}survivor`;
    await send(['d0', 'd1', 'd2', 'd3']);
    // Two earlier lives died: one with d1 and d2 in its batch, one with d1 alone.
    await database.pool.query(
      `insert into consumer_inflight (group_id, topic, kafka_partition, kafka_offset, lives, life) values ($1, $2, 0, 1, 2, 'dead'), ($1, $2, 0, 2, 1, 'dead')`,
      [groupId, names.ingest],
    );
    const handled: string[] = [];
    let inFlight = 0;
    let mostInFlight = 0;
    stage = consumer(groupId, createInFlightStore(database.pool), async (value) => {
      inFlight += 1;
      mostInFlight = Math.max(mostInFlight, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      handled.push(value.documentId);
      inFlight -= 1;
    });
    await stage.start();

    const dead = await eventually(async () => {
      const read = await readTopic(topics.kafka, dlqTopic(names.ingest));
      return read.length === 1 ? read[0] : undefined;
    }, { description: 'the poison message dead-lettered' });
    expect(JSON.parse(dead.value)).toMatchObject({ documentId: 'd1' });
    expect(dead.headers[HEADERS.errorCode]).toBe('POISON_CRASH');
    expect(dead.headers[HEADERS.errorRetriable]).toBe('false');
    expect(dead.headers[HEADERS.errorClass]).toBe('PermanentError');
    expect(dead.headers[HEADERS.errorMessage]).toMatch(/process died 2 times with this message in flight/);
    expect(dead.headers[HEADERS.originalOffset]).toBe('1');

    await eventually(() => handled.length === 3, { description: 'the other messages handled' });
    expect(handled).toEqual(['d0', 'd2', 'd3']);
    expect(mostInFlight).toBe(1);
    const statuses = await eventually(async () => {
      const read = await readTopic(topics.kafka, names.status);
      return read.length === 1 ? read : undefined;
    }, { description: 'the failed status of the poison message' });
    expect(JSON.parse(statuses[0]!.value)).toMatchObject({ documentId: 'd1', version: 1, state: 'failed', stage: 'fetch', error: { code: 'POISON_CRASH' } });
    await eventually(async () => (await records()).length === 0, { description: 'records removed after the commit' });
  });

  it('holds the partition while the store fails, and goes on when it is back', async () => {
    const names = topicNames(topics.prefix);
    const real = createInFlightStore(database.pool);
    let failing = true;
    let failures = 0;
    const flaky: InFlightStore = {
      ...real,
      begin: async (...args) => {
        if (failing) {
          failures += 1;
          throw new TransientError('DATABASE_UNAVAILABLE', 'database unavailable while recording the messages in flight');
        }
        return real.begin(...args);
      },
    };
    const handled: string[] = [];
    stage = consumer(`${topics.prefix}flaky`, flaky, async (value) => {
      handled.push(value.documentId);
    });
    await send(['x']);
    await stage.start();
    await eventually(() => failures >= 2, { description: 'the batch read again after a failed record' });
    expect(handled).toEqual([]);
    failing = false;
    await eventually(() => handled.length === 1, { description: 'handled once the store is back' });
    expect(await readTopic(topics.kafka, `${names.ingest}.retry.1`)).toEqual([]);
    expect(await readTopic(topics.kafka, dlqTopic(names.ingest))).toEqual([]);
  });
});
