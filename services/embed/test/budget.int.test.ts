import { createRegistry, TransientError } from '@docintel/core';
import { contentHash, type ChunkBatch } from '@docintel/contracts';
import { LocalEmbedder } from '@docintel/embedding';
import { createProducer, type ConsumedMessage, type OutboundMessage } from '@docintel/kafka';
import { createTestDatabase, createTestTopics, eventually, readTopic, testLogger, type TestDatabase, type TestTopics } from '@docintel/testing';
import type { Producer } from 'kafkajs';
import { loadTenantBudgetConfig, nextUtcMidnight, ParkingLot, TenantBudgets } from '../src/budget';
import { createEmbedHandler } from '../src/handler';

const batch = (tenantId: string, documentId: string, texts: string[]): ChunkBatch => ({
  tenantId,
  documentId,
  version: 1,
  op: 'upsert',
  title: documentId,
  mimeType: 'text/plain',
  batchIndex: 0,
  totalBatches: 1,
  totalChunks: texts.length,
  chunks: texts.map((text, index) => ({ index, text, hash: contentHash(text) })),
});

const consumed = (value: ChunkBatch): ConsumedMessage<ChunkBatch> => ({
  value,
  key: value.tenantId,
  headers: { 'tenant-id': value.tenantId, 'trace-id': `trace-${value.documentId}` },
  topic: 'chunks',
  partition: 0,
  offset: '0',
  attempt: 0,
  traceId: `trace-${value.documentId}`,
  replayed: false,
  logger: testLogger(),
});

describe('tenant daily token budgets', () => {
  let database: TestDatabase;
  let topics: TestTopics;
  let producer: Producer;

  beforeAll(async () => {
    [database, topics] = await Promise.all([createTestDatabase(), createTestTopics({ partitions: 1 })]);
    producer = createProducer(topics.kafka);
    await producer.connect();
  });

  afterAll(async () => {
    await producer.disconnect();
    await Promise.all([database.drop(), topics.cleanup()]);
  });

  it('reads budgets from the environment and names a bad value', () => {
    const config = loadTenantBudgetConfig({ TENANT_DAILY_TOKEN_BUDGET: '1000', TENANT_DAILY_TOKEN_BUDGETS: 'acme=50, globex=7' });
    expect(config.defaultDailyTokens).toBe(1000);
    expect([...config.perTenant]).toEqual([['acme', 50], ['globex', 7]]);
    expect(() => loadTenantBudgetConfig({ TENANT_DAILY_TOKEN_BUDGETS: 'acme=lots' })).toThrow('TENANT_DAILY_TOKEN_BUDGETS: must be a whole number of tokens, got "lots"');
  });

  it('parks a tenant over its budget, says so in its status, and lets other tenants go on', async () => {
    const prefix = topics.prefix;
    const names = { ingest: `${prefix}document.ingest`, chunks: `${prefix}document.chunks`, vectors: `${prefix}document.vectors`, status: `${prefix}document.status` };
    const budgets = new TenantBudgets(database.pool, { defaultDailyTokens: undefined, perTenant: new Map([['acme', 30]]) });
    const parking = new ParkingLot(database.pool, producer);
    const provider = new LocalEmbedder({ dimension: 16 });
    const handler = createEmbedHandler({ topics: names, registry: createRegistry('test'), db: database.pool }, provider, { lingerMs: 0, concurrency: 1 }, { budgets, parking });
    const emitted: OutboundMessage[] = [];
    const context = { emit: (m: OutboundMessage) => emitted.push(m), flush: async () => undefined, heartbeat: async () => undefined };

    // 25 tokens (100 characters): the first spend of the day passes.
    await handler.handle(consumed(batch('acme', 'a-1', ['x'.repeat(100)])), context);
    // 25 more would make 50 of 30: parked.
    await handler.handle(consumed(batch('acme', 'a-2', ['y'.repeat(100)])), context);
    // Another tenant is not held up.
    await handler.handle(consumed(batch('globex', 'g-1', ['z'.repeat(100)])), context);

    const vectors = emitted.filter((m) => m.topic === names.vectors).map((m) => (m.value as ChunkBatch).documentId);
    expect(vectors).toEqual(['a-1', 'g-1']);
    const waiting = emitted.find((m) => m.topic === names.status && (m.value as { documentId: string }).documentId === 'a-2');
    expect(waiting?.value).toMatchObject({
      state: 'embedding',
      waiting: { reason: 'tenant acme has spent its daily budget of 30 embedding tokens', until: nextUtcMidnight() },
    });
    expect(provider.stats.texts).toBe(2);

    const parked = await database.pool.query<{ tenant_id: string; topic: string; reason: string }>('select tenant_id, topic, reason from parked_messages');
    expect(parked.rows).toEqual([{ tenant_id: 'acme', topic: names.chunks, reason: 'tenant acme has spent its daily budget of 30 embedding tokens' }]);

    // When its time comes, the message goes back on its topic with its key and headers.
    expect(await parking.release()).toBe(0);
    await database.pool.query("update parked_messages set due_at = now() - interval '1 second'");
    expect(await parking.release()).toBe(1);
    const back = await eventually(async () => (await readTopic(topics.kafka, names.chunks))[0], { description: 'the parked message back on its topic' });
    expect(back.key).toBe('acme');
    expect(back.headers['trace-id']).toBe('trace-a-2');
    expect((JSON.parse(back.value) as ChunkBatch).documentId).toBe('a-2');
    expect((await database.pool.query('select 1 from parked_messages')).rowCount).toBe(0);
    await handler.close?.();
  });

  it('parks and releases through the postgres breaker: while it is open, nothing reaches the database', async () => {
    const open = { fire: jest.fn(async () => Promise.reject(new TransientError('CIRCUIT_OPEN', 'postgres is unavailable (circuit open)'))) };
    const query = jest.spyOn(database.pool, 'query');
    const connect = jest.spyOn(database.pool, 'connect');
    try {
      const parking = new ParkingLot(database.pool, producer, open);
      await expect(parking.park('chunks', consumed(batch('acme', 'a-3', ['w'])), 'a reason', Date.now())).rejects.toMatchObject({ code: 'CIRCUIT_OPEN' });
      await expect(parking.release()).rejects.toMatchObject({ code: 'CIRCUIT_OPEN' });
      expect(open.fire).toHaveBeenCalledTimes(2);
      expect(query).not.toHaveBeenCalled();
      expect(connect).not.toHaveBeenCalled();
    } finally {
      query.mockRestore();
      connect.mockRestore();
    }
  });
});
