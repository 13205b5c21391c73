import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { classifyError } from '@docintel/core';
import { contentHash, encodeVector, topicNames, type StatusEvent, type VectorBatch } from '@docintel/contracts';
import type { ConsumedMessage, HandlerContext, OutboundMessage } from '@docintel/kafka';
import type { StageHandler } from '@docintel/service';
import { createTestDatabase, testLogger, type TestDatabase } from '@docintel/testing';
import { createVectorStore, type VectorStore } from '@docintel/vectorstore';
import { createStoreHandler } from '../src/handler';
import { readVersions } from '../src/ledger';

const DIMENSION = 8;
const TENANT = 'acme';
const DOCUMENT = 'doc';
const topics = topicNames('test.');

/** A distinct vector per (version, chunk), so a query can tell which chunk it found. */
function vectorOf(version: number, chunkIndex: number, dimension = DIMENSION): number[] {
  return Array.from({ length: dimension }, (_, j) => Math.sin(version * 97 + chunkIndex * 13 + j + 1));
}

function chunk(version: number, index: number, dimension = DIMENSION) {
  const text = `version ${version}, chunk ${index}: the quarterly kayak reimbursement policy, paragraph ${index}.`;
  return { index, text, hash: contentHash(text), vector: encodeVector(vectorOf(version, index, dimension)) };
}

/** Batch `batchIndex` of `version`, holding chunks `first..first+count-1`; `last` adds the totals. */
function upsert(
  version: number,
  batchIndex: number,
  first: number,
  count: number,
  last?: { totalBatches: number; totalChunks: number },
  tenantId = TENANT,
): VectorBatch {
  return {
    tenantId,
    documentId: DOCUMENT,
    version,
    op: 'upsert',
    title: 'Handbook',
    mimeType: 'text/markdown',
    batchIndex,
    ...last,
    model: 'docintel-local-v1',
    dimension: DIMENSION,
    chunks: Array.from({ length: count }, (_, i) => chunk(version, first + i)),
  };
}

const remove = (version: number, tenantId = TENANT): VectorBatch => ({ tenantId, documentId: DOCUMENT, version, op: 'delete' });

let offset = 0;
function consumed(value: VectorBatch, replayed = false): ConsumedMessage<VectorBatch> {
  offset += 1;
  return {
    value,
    key: value.tenantId,
    headers: { 'tenant-id': value.tenantId, 'trace-id': `trace-${offset}`, 'schema-version': '1' },
    topic: topics.vectors,
    partition: 0,
    offset: String(offset),
    attempt: 0,
    traceId: `trace-${offset}`,
    replayed,
    logger: testLogger('store-test'),
  };
}

/** Status events with their producer timestamp left out, so they compare exactly. */
type Emitted = Omit<OutboundMessage, 'value'> & { value: Omit<StatusEvent, 'at'> };

const status = (version: number, state: StatusEvent['state'], extra: Partial<StatusEvent> = {}, tenantId = TENANT): Emitted => ({
  topic: topics.status,
  key: tenantId,
  value: { tenantId, documentId: DOCUMENT, version, state, stage: 'store', replayed: false, ...extra },
});

const ids = (version: number, count: number): string[] => Array.from({ length: count }, (_, i) => `${DOCUMENT}#${version}#${i}`).sort();

describe('store handler', () => {
  let database: TestDatabase;
  let directory: string;
  let store: VectorStore;
  let handler: StageHandler<VectorBatch>;

  beforeEach(async () => {
    database = await createTestDatabase();
    directory = await mkdtemp(join(tmpdir(), 'docintel-store-test-'));
    store = createVectorStore({ kind: 'lancedb', directory, dimension: DIMENSION });
    handler = createStoreHandler({ topics, db: database.pool }, store, DIMENSION);
  });

  afterEach(async () => {
    await handler.close?.();
    await database.drop();
    await rm(directory, { recursive: true, force: true });
  });

  /** Handles one message; resolves with what it emitted, `at` removed. */
  async function handle(value: VectorBatch, replayed = false): Promise<Emitted[]> {
    const emitted: OutboundMessage[] = [];
    const context: HandlerContext = {
      emit: (message) => emitted.push(message),
      flush: async () => undefined,
      heartbeat: async () => undefined,
    };
    await handler.handle(consumed(value, replayed), context);
    return emitted.map((message) => {
      const { at, ...rest } = message.value as StatusEvent;
      expect(typeof at).toBe('number');
      return { ...message, value: rest };
    });
  }

  it('writes both batches of a version and reports completion once the last arrives', async () => {
    expect(await handle(upsert(1, 0, 0, 3))).toEqual([status(1, 'storing', { batch: { index: 0, chunks: 3 } })]);
    expect(await store.listIds(TENANT, DOCUMENT)).toEqual(ids(1, 3));
    await expect(readVersions(database.pool, TENANT, DOCUMENT)).resolves.toEqual({ completedVersion: null, deletedVersion: null });

    expect(await handle(upsert(1, 1, 3, 2, { totalBatches: 2, totalChunks: 5 }))).toEqual([
      status(1, 'storing', { batch: { index: 1, chunks: 2 } }),
      status(1, 'completed', { totalChunks: 5, totalBatches: 2 }),
    ]);
    expect(await store.listIds(TENANT, DOCUMENT)).toEqual(ids(1, 5));
    await expect(readVersions(database.pool, TENANT, DOCUMENT)).resolves.toEqual({ completedVersion: 1, deletedVersion: null });

    // the vectors and texts are the ones sent
    const [best] = await store.query(TENANT, Float32Array.from(vectorOf(1, 4)), 1);
    expect(best).toMatchObject({ id: 'doc#1#4', documentId: DOCUMENT, version: 1, chunkIndex: 4, text: chunk(1, 4).text, title: 'Handbook' });
    expect(best!.score).toBeCloseTo(1, 5);
  });

  it('completes when the last batch arrives first', async () => {
    expect(await handle(upsert(1, 1, 3, 2, { totalBatches: 2, totalChunks: 5 }))).toEqual([status(1, 'storing', { batch: { index: 1, chunks: 2 } })]);
    expect(await handle(upsert(1, 0, 0, 3))).toEqual([
      status(1, 'storing', { batch: { index: 0, chunks: 3 } }),
      status(1, 'completed', { totalChunks: 5, totalBatches: 2 }),
    ]);
    expect(await store.listIds(TENANT, DOCUMENT)).toEqual(ids(1, 5));
  });

  it('leaves the same vectors when a batch is replayed', async () => {
    await handle(upsert(1, 0, 0, 3));
    await handle(upsert(1, 1, 3, 2, { totalBatches: 2, totalChunks: 5 }));
    expect(await handle(upsert(1, 0, 0, 3), true)).toEqual([
      status(1, 'storing', { batch: { index: 0, chunks: 3 }, replayed: true }),
      status(1, 'completed', { totalChunks: 5, totalBatches: 2, replayed: true }),
    ]);
    expect(await store.listIds(TENANT, DOCUMENT)).toEqual(ids(1, 5));
  });

  it('replaces version 1 by version 2 once version 2 is complete, and ignores a stale batch of version 1', async () => {
    await handle(upsert(1, 0, 0, 3));
    await handle(upsert(1, 1, 3, 2, { totalBatches: 2, totalChunks: 5 }));

    expect(await handle(upsert(2, 0, 0, 4, { totalBatches: 1, totalChunks: 4 }))).toEqual([
      status(2, 'storing', { batch: { index: 0, chunks: 4 } }),
      status(2, 'completed', { totalChunks: 4, totalBatches: 1 }),
    ]);
    expect(await store.listIds(TENANT, DOCUMENT)).toEqual(ids(2, 4));
    await expect(readVersions(database.pool, TENANT, DOCUMENT)).resolves.toEqual({ completedVersion: 2, deletedVersion: null });

    // a replayed batch of version 1 writes nothing, records nothing and reports nothing
    expect(await handle(upsert(1, 1, 3, 2, { totalBatches: 2, totalChunks: 5 }), true)).toEqual([]);
    expect(await handle(upsert(1, 0, 0, 3), true)).toEqual([]);
    expect(await store.listIds(TENANT, DOCUMENT)).toEqual(ids(2, 4));
    await expect(readVersions(database.pool, TENANT, DOCUMENT)).resolves.toEqual({ completedVersion: 2, deletedVersion: null });
  });

  it('keeps the old version searchable while the new one is in flight', async () => {
    await handle(upsert(1, 0, 0, 2, { totalBatches: 1, totalChunks: 2 }));
    await handle(upsert(2, 0, 0, 3));
    expect(await store.listIds(TENANT, DOCUMENT)).toEqual([...ids(1, 2), ...ids(2, 3)].sort());
    await handle(upsert(2, 1, 3, 1, { totalBatches: 2, totalChunks: 4 }));
    expect(await store.listIds(TENANT, DOCUMENT)).toEqual(ids(2, 4));
  });

  it('removes every vector on delete, reports deleted, and writes no later batch of an older version', async () => {
    await handle(upsert(1, 0, 0, 3));
    await handle(upsert(1, 1, 3, 2, { totalBatches: 2, totalChunks: 5 }));
    await handle(upsert(1, 0, 0, 2, { totalBatches: 1, totalChunks: 2 }, 'globex'));

    expect(await handle(remove(2))).toEqual([status(2, 'deleted')]);
    expect(await store.listIds(TENANT, DOCUMENT)).toEqual([]);
    await expect(readVersions(database.pool, TENANT, DOCUMENT)).resolves.toEqual({ completedVersion: 1, deletedVersion: 2 });
    // another tenant's document of the same id is untouched
    expect(await store.listIds('globex', DOCUMENT)).toEqual(ids(1, 2));

    expect(await handle(upsert(1, 0, 0, 3), true)).toEqual([]);
    expect(await store.listIds(TENANT, DOCUMENT)).toEqual([]);

    // replaying the delete changes nothing
    expect(await handle(remove(2), true)).toEqual([status(2, 'deleted', { replayed: true })]);
    await expect(readVersions(database.pool, TENANT, DOCUMENT)).resolves.toEqual({ completedVersion: 1, deletedVersion: 2 });
  });

  it('passes a delete of a document it never stored', async () => {
    expect(await handle(remove(1))).toEqual([status(1, 'deleted')]);
    expect(await store.listIds(TENANT, DOCUMENT)).toEqual([]);
    await expect(readVersions(database.pool, TENANT, DOCUMENT)).resolves.toEqual({ completedVersion: null, deletedVersion: 1 });
  });

  it('rejects a vector of the wrong dimension with DIMENSION_MISMATCH and writes nothing', async () => {
    const batch = upsert(1, 0, 0, 3, { totalBatches: 1, totalChunks: 3 });
    if (batch.op !== 'upsert') throw new Error('unreachable');
    batch.chunks[1] = chunk(1, 1, 7);

    const error = await handle(batch).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: 'DIMENSION_MISMATCH', retriable: false });
    expect((error as Error).message).toBe('chunk 1 has a vector of 7 dimensions; the vector store holds 8 (model docintel-local-v1)');
    expect(classifyError(error)).toMatchObject({ code: 'DIMENSION_MISMATCH', retriable: false });
    expect(await store.listIds(TENANT)).toEqual([]);
    const recorded = await database.pool.query('select * from stored_batches');
    expect(recorded.rowCount).toBe(0);
  });

  // KNOWN BUG (handler.ts, the delete branch): a delete removes every version of the document
  // whatever its own version, so a replayed delete of version 2 wipes version 3, stored after the
  // document was re-created. Remove `.failing` when a delete spares versions newer than its own.
  it('a replayed old delete leaves a newer completed version in place', async () => {
    await handle(upsert(1, 0, 0, 2, { totalBatches: 1, totalChunks: 2 }));
    await handle(remove(2));
    await handle(upsert(3, 0, 0, 3, { totalBatches: 1, totalChunks: 3 }));
    expect(await store.listIds(TENANT, DOCUMENT)).toEqual(ids(3, 3));
    await handle(remove(2), true);
    expect(await store.listIds(TENANT, DOCUMENT)).toEqual(ids(3, 3));
  });
});
