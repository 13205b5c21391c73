import { contentHash, decodeVector, encodeVector, topicNames, type ChunkBatch, type StatusEvent, type UpsertVectorBatch } from '@docintel/contracts';
import { LocalEmbedder } from '@docintel/embedding';
import type { ConsumedMessage, HandlerContext, OutboundMessage } from '@docintel/kafka';
import type { StageHandler } from '@docintel/service';
import { createTestDatabase, testLogger, type TestDatabase } from '@docintel/testing';
import { Registry } from 'prom-client';
import { createEmbedHandler } from '../src/handler';

const DIMENSION = 16;
const topics = topicNames('test.');

function chunkOf(index: number, text: string) {
  return { index, text, hash: contentHash(text) };
}

/** A batch of `doc-<n>` whose chunk texts are `texts`. */
function batchOf(texts: string[], options: { tenantId?: string; documentId?: string; version?: number; batchIndex?: number } = {}): ChunkBatch {
  return {
    tenantId: options.tenantId ?? 'acme',
    documentId: options.documentId ?? 'doc-1',
    version: options.version ?? 1,
    op: 'upsert',
    title: 'Employee handbook',
    mimeType: 'text/markdown',
    batchIndex: options.batchIndex ?? 0,
    chunks: texts.map((text, index) => chunkOf(index, text)),
  };
}

const HANDBOOK = [
  'New employees receive a laptop on their first day and meet their onboarding buddy.',
  'Expenses above 200 EUR need a manager approval before the purchase.',
  'The quarterly kayak reimbursement covers one rental per quarter for the whole team.',
];

let offset = 0;
function consumed(value: ChunkBatch, replayed = false): ConsumedMessage<ChunkBatch> {
  offset += 1;
  return {
    value,
    key: value.tenantId,
    headers: { 'tenant-id': value.tenantId, 'trace-id': `trace-${offset}`, 'schema-version': '1' },
    topic: topics.chunks,
    partition: 0,
    offset: String(offset),
    attempt: 0,
    traceId: `trace-${offset}`,
    replayed,
    logger: testLogger('embed-test'),
  };
}

describe('embed handler', () => {
  let database: TestDatabase;
  let provider: LocalEmbedder;
  /** Computes the expected vectors without touching the provider's stats. */
  const reference = new LocalEmbedder({ dimension: DIMENSION });
  let registry: Registry;
  let handler: StageHandler<ChunkBatch>;

  /** A fresh provider, registry and handler whose partial requests wait `lingerMs` for more texts. */
  function build(lingerMs: number): void {
    provider = new LocalEmbedder({ dimension: DIMENSION, maxBatchSize: 100 });
    registry = new Registry();
    handler = createEmbedHandler({ topics, registry, db: database.pool }, provider, { lingerMs, concurrency: 32 });
  }

  beforeEach(async () => {
    database = await createTestDatabase();
    build(20);
  });

  afterEach(async () => {
    await handler.close?.();
    await database.drop();
  });

  async function handle(value: ChunkBatch): Promise<OutboundMessage[]> {
    const emitted: OutboundMessage[] = [];
    const context: HandlerContext = {
      emit: (message) => emitted.push(message),
      flush: async () => undefined,
      heartbeat: async () => undefined,
    };
    await handler.handle(consumed(value), context);
    return emitted;
  }

  /** The vectors message `batch` should become. */
  function expectedVectors(batch: ChunkBatch): OutboundMessage {
    if (batch.op !== 'upsert') throw new Error('not an upsert');
    const value: UpsertVectorBatch = {
      ...batch,
      model: 'docintel-local-v1',
      dimension: DIMENSION,
      chunks: batch.chunks.map((chunk) => ({ ...chunk, vector: encodeVector(reference.embedOne(chunk.text)) })),
    };
    return { topic: topics.vectors, key: batch.tenantId, value };
  }

  function expectedStatus(batch: ChunkBatch): OutboundMessage {
    if (batch.op !== 'upsert') throw new Error('not an upsert');
    const value: StatusEvent = {
      tenantId: batch.tenantId,
      documentId: batch.documentId,
      version: batch.version,
      state: 'embedding',
      stage: 'embed',
      at: expect.any(Number) as number,
      batch: { index: batch.batchIndex, chunks: batch.chunks.length },
      replayed: false,
    };
    return { topic: topics.status, key: batch.tenantId, value };
  }

  async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
    const found = registry.getSingleMetric(name);
    if (!found) throw new Error(`no metric ${name}`);
    const { values } = await found.get();
    return values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l)).reduce((sum, v) => sum + v.value, 0);
  }

  const cacheRows = async () =>
    (
      await database.pool.query<{ tenant_id: string; model: string; dimension: number; n: string }>(
        'select tenant_id, model, dimension, count(*) as n from embedding_cache group by 1, 2, 3 order by 1',
      )
    ).rows.map((r) => ({ ...r, n: Number(r.n) }));

  it('emits an embedding status event and a vectors message with one vector per chunk', async () => {
    const batch = batchOf(HANDBOOK);
    const emitted = await handle(batch);
    expect(emitted).toEqual([expectedStatus(batch), expectedVectors(batch)]);

    const out = emitted[1]!.value as UpsertVectorBatch;
    expect(out.chunks.map((c) => decodeVector(c.vector).length)).toEqual([DIMENSION, DIMENSION, DIMENSION]);
    expect(provider.stats).toEqual({ requests: 1, texts: 3 });
    expect(await cacheRows()).toEqual([{ tenant_id: 'acme', model: 'docintel-local-v1', dimension: DIMENSION, n: 3 }]);
    expect(await metric('docintel_embedding_requests_total', { outcome: 'ok' })).toBe(1);
    expect(await metric('docintel_embedding_texts_total')).toBe(3);
    expect(await metric('docintel_embedding_cache_hits_total')).toBe(0);
  });

  it('emits the embedding status event for the first batch of a version only', async () => {
    const later = batchOf(HANDBOOK, { batchIndex: 2 });
    expect(await handle(later)).toEqual([expectedVectors(later)]);
    const first = batchOf(['The first batch of the handbook.'], { batchIndex: 0 });
    expect(await handle(first)).toEqual([expectedStatus(first), expectedVectors(first)]);
  });

  it('serves the same batch again from the cache without a provider request', async () => {
    const batch = batchOf(HANDBOOK);
    const first = await handle(batch);
    expect(provider.stats).toEqual({ requests: 1, texts: 3 });

    const second = await handle(batch);
    expect(provider.stats).toEqual({ requests: 1, texts: 3 });
    expect(second).toEqual([expectedStatus(batch), expectedVectors(batch)]);
    expect(second[1]).toEqual(first[1]);
    expect(await metric('docintel_embedding_cache_hits_total')).toBe(3);
  });

  it('sends only the chunks it has not seen, e.g. of a new version', async () => {
    await handle(batchOf(HANDBOOK));
    const changed = 'Expenses above 500 EUR need a director approval before the purchase.';
    const v2 = batchOf([HANDBOOK[0]!, changed, HANDBOOK[2]!], { version: 2 });
    expect(await handle(v2)).toEqual([expectedStatus(v2), expectedVectors(v2)]);
    expect(provider.stats).toEqual({ requests: 2, texts: 4 });
    expect(await metric('docintel_embedding_cache_hits_total')).toBe(2);
  });

  it('embeds a text repeated within a batch once', async () => {
    const batch = batchOf([HANDBOOK[0]!, HANDBOOK[1]!, HANDBOOK[0]!]);
    expect(await handle(batch)).toEqual([expectedStatus(batch), expectedVectors(batch)]);
    expect(provider.stats).toEqual({ requests: 1, texts: 2 });
  });

  it("does not serve one tenant's cached vectors to another tenant", async () => {
    await handle(batchOf(HANDBOOK, { tenantId: 'acme' }));
    expect(provider.stats).toEqual({ requests: 1, texts: 3 });

    const globex = batchOf(HANDBOOK, { tenantId: 'globex' });
    expect(await handle(globex)).toEqual([expectedStatus(globex), expectedVectors(globex)]);
    expect(provider.stats).toEqual({ requests: 2, texts: 6 });
    expect(await metric('docintel_embedding_cache_hits_total')).toBe(0);
    expect(await cacheRows()).toEqual([
      { tenant_id: 'acme', model: 'docintel-local-v1', dimension: DIMENSION, n: 3 },
      { tenant_id: 'globex', model: 'docintel-local-v1', dimension: DIMENSION, n: 3 },
    ]);
  });

  it('packs 5 concurrent messages of 30 chunks into 2 provider requests', async () => {
    const batches = Array.from({ length: 5 }, (_, m) =>
      batchOf(
        Array.from({ length: 30 }, (_, c) => `Runbook section ${m}.${c}: restart the ingestion worker ${m} and check queue ${c}.`),
        { documentId: `doc-${m}` },
      ),
    );
    // A linger far longer than the cache lookups take, so all 150 texts are waiting before it ends:
    // 100 go as soon as they are there, the other 50 when the linger ends.
    await handler.close?.();
    build(1_000);
    const emitted = await Promise.all(batches.map((batch) => handle(batch)));
    expect(provider.stats).toEqual({ requests: 2, texts: 150 });
    expect(await metric('docintel_embedding_requests_total', { outcome: 'ok' })).toBe(2);
    expect(await metric('docintel_embedding_texts_total')).toBe(150);
    expect(emitted).toEqual(batches.map((batch) => [expectedStatus(batch), expectedVectors(batch)]));
  });

  it('passes a delete through unchanged', async () => {
    const deletion: ChunkBatch = { tenantId: 'acme', documentId: 'doc-1', version: 3, op: 'delete' };
    const emitted = await handle(deletion);
    expect(emitted).toEqual([{ topic: topics.vectors, key: 'acme', value: { tenantId: 'acme', documentId: 'doc-1', version: 3, op: 'delete' } }]);
    expect(provider.stats).toEqual({ requests: 0, texts: 0 });
    expect(await cacheRows()).toEqual([]);
  });
});
