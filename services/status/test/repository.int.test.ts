import type { StatusEvent } from '@docintel/contracts';
import { createTestDatabase, type TestDatabase } from '@docintel/testing';
import { applyStatusEvent } from '../src/repository';

const TENANT = 'acme';
const DOCUMENT = 'doc-1';

/** A status event of version 1 of `doc-1`, with whatever else the test gives. */
function event(fields: Pick<StatusEvent, 'state' | 'stage'> & Partial<StatusEvent>): StatusEvent {
  return { tenantId: TENANT, documentId: DOCUMENT, version: 1, at: 1_700_000_000_000, ...fields };
}

const queued = event({ state: 'queued', stage: 'ingest' });
const fetching = event({ state: 'fetching', stage: 'fetch' });
const chunked = event({ state: 'chunked', stage: 'fetch', totalChunks: 10, totalBatches: 2 });
const embedding = event({ state: 'embedding', stage: 'embed', batch: { index: 0, chunks: 6 } });
const stored0 = event({ state: 'storing', stage: 'store', batch: { index: 0, chunks: 6 } });
const stored1 = event({ state: 'storing', stage: 'store', batch: { index: 1, chunks: 4 } });
const completed = event({ state: 'completed', stage: 'store', totalChunks: 10, totalBatches: 2 });
const FULL_SEQUENCE = [queued, fetching, chunked, embedding, stored0, stored1, completed];

interface Row {
  tenant_id: string;
  document_id: string;
  version: number;
  state: string;
  stage: string;
  total_chunks: number | null;
  total_batches: number | null;
  stored_chunks: number;
  error_code: string | null;
  error_message: string | null;
  error_stage: string | null;
}

describe('applyStatusEvent', () => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await createTestDatabase();
  });

  afterEach(async () => {
    await database.drop();
  });

  async function applyAll(events: StatusEvent[]): Promise<Array<string | undefined>> {
    const states: Array<string | undefined> = [];
    for (const e of events) states.push(await applyStatusEvent(database.pool, e));
    return states;
  }

  async function rows(): Promise<Row[]> {
    const result = await database.pool.query<Row>(
      `select tenant_id, document_id, version, state, stage, total_chunks, total_batches, stored_chunks,
              error_code, error_message, error_stage
         from document_status order by tenant_id, document_id, version`,
    );
    return result.rows;
  }

  async function row(version = 1): Promise<Row> {
    const found = (await rows()).filter((r) => r.version === version);
    expect(found).toHaveLength(1);
    return found[0]!;
  }

  const completedRow: Row = {
    tenant_id: TENANT,
    document_id: DOCUMENT,
    version: 1,
    state: 'completed',
    stage: 'store',
    total_chunks: 10,
    total_batches: 2,
    stored_chunks: 10,
    error_code: null,
    error_message: null,
    error_stage: null,
  };

  it('folds the full sequence into one completed row', async () => {
    const states = await applyAll(FULL_SEQUENCE);
    expect(states).toEqual(['queued', 'fetching', 'chunked', 'embedding', 'storing', 'storing', 'completed']);
    expect(await rows()).toEqual([completedRow]);
  });

  it('tracks progress batch by batch', async () => {
    await applyAll([queued, fetching, chunked, embedding]);
    expect(await row()).toMatchObject({ state: 'embedding', stage: 'embed', total_chunks: 10, total_batches: 2, stored_chunks: 0 });
    await applyStatusEvent(database.pool, stored0);
    expect(await row()).toMatchObject({ state: 'storing', stage: 'store', stored_chunks: 6 });
    await applyStatusEvent(database.pool, stored1);
    expect(await row()).toMatchObject({ state: 'storing', stage: 'store', stored_chunks: 10 });
  });

  it('counts the same storing event once however often it is applied', async () => {
    await applyAll([queued, fetching, chunked, embedding, stored0, stored0]);
    expect(await row()).toMatchObject({ state: 'storing', stored_chunks: 6 });
    await applyAll([stored0, { ...stored0, replayed: true }, stored1, stored1, completed, stored1]);
    expect(await rows()).toEqual([completedRow]);
    const batches = await database.pool.query<{ batch_index: number; chunks: number }>(
      'select batch_index, chunks from status_batches order by batch_index',
    );
    expect(batches.rows).toEqual([
      { batch_index: 0, chunks: 6 },
      { batch_index: 1, chunks: 4 },
    ]);
  });

  it('replaying the whole sequence changes nothing', async () => {
    await applyAll(FULL_SEQUENCE);
    const states = await applyAll(FULL_SEQUENCE);
    expect(states).toEqual(['completed', 'completed', 'completed', 'completed', 'completed', 'completed', 'completed']);
    expect(await rows()).toEqual([completedRow]);
  });

  it('ends in the same row when events arrive out of order', async () => {
    const states = await applyAll([stored0, embedding, queued, stored1, chunked, fetching, completed]);
    expect(states).toEqual(['storing', 'storing', 'storing', 'storing', 'storing', 'storing', 'completed']);
    expect(await rows()).toEqual([completedRow]);
  });

  it('does not move a row back when a stage behind it arrives', async () => {
    await applyAll([queued, fetching, chunked, embedding, stored0]);
    await applyAll([fetching, queued, chunked]);
    expect(await row()).toMatchObject({ state: 'storing', stage: 'store', total_chunks: 10, stored_chunks: 6 });
  });

  it('records the error of a failure with its stage', async () => {
    await applyAll([queued, fetching, chunked]);
    const failed = event({ state: 'failed', stage: 'embed', error: { code: 'EMBEDDING_RATE_LIMITED', message: 'quota spent after 5 attempts' } });
    expect(await applyStatusEvent(database.pool, failed)).toBe('failed');
    expect(await rows()).toEqual([
      {
        tenant_id: TENANT,
        document_id: DOCUMENT,
        version: 1,
        state: 'failed',
        stage: 'embed',
        total_chunks: 10,
        total_batches: 2,
        stored_chunks: 0,
        error_code: 'EMBEDDING_RATE_LIMITED',
        error_message: 'quota spent after 5 attempts',
        error_stage: 'embed',
      },
    ]);
  });

  it('records UNKNOWN for a failure without an error', async () => {
    await applyStatusEvent(database.pool, event({ state: 'failed', stage: 'store' }));
    expect(await row()).toMatchObject({ state: 'failed', stage: 'store', error_code: 'UNKNOWN', error_message: null, error_stage: 'store' });
  });

  it('keeps a failure when late events of sibling batches arrive', async () => {
    await applyAll([queued, fetching, chunked]);
    await applyStatusEvent(database.pool, event({ state: 'failed', stage: 'embed', error: { code: 'TIMEOUT', message: 'embedding took too long' } }));
    expect(await applyAll([embedding, stored0])).toEqual(['failed', 'failed']);
    expect(await row()).toMatchObject({
      state: 'failed',
      stage: 'embed',
      stored_chunks: 6,
      error_code: 'TIMEOUT',
      error_message: 'embedding took too long',
      error_stage: 'embed',
    });
  });

  it('revives a failed version with a replayed event and clears its error', async () => {
    await applyAll([queued, fetching, chunked]);
    await applyStatusEvent(database.pool, event({ state: 'failed', stage: 'embed', error: { code: 'TIMEOUT', message: 'embedding took too long' } }));
    expect(await applyStatusEvent(database.pool, { ...embedding, replayed: true })).toBe('embedding');
    expect(await row()).toMatchObject({ state: 'embedding', stage: 'embed', error_code: null, error_message: null, error_stage: null });
    await applyAll([stored0, stored1, completed]);
    expect(await rows()).toEqual([completedRow]);
  });

  it('lets completed replace failed, and never the reverse', async () => {
    await applyAll([queued, fetching, chunked, stored0, stored1]);
    await applyStatusEvent(database.pool, event({ state: 'failed', stage: 'store', error: { code: 'VECTOR_STORE_FAILED', message: 'disk full' } }));
    expect(await applyStatusEvent(database.pool, completed)).toBe('completed');
    expect(await rows()).toEqual([completedRow]);
    expect(await applyStatusEvent(database.pool, event({ state: 'failed', stage: 'embed', error: { code: 'TIMEOUT', message: 'late' } }))).toBe(
      'completed',
    );
    expect(await rows()).toEqual([completedRow]);
  });

  it('keeps deleted final', async () => {
    await applyAll(FULL_SEQUENCE);
    expect(await applyStatusEvent(database.pool, event({ state: 'deleted', stage: 'store' }))).toBe('deleted');
    expect(await applyAll([queued, { ...stored0, replayed: true }, completed])).toEqual(['deleted', 'deleted', 'deleted']);
    expect(await row()).toMatchObject({ state: 'deleted', stage: 'store', error_code: null });
  });

  it('keeps one row per version', async () => {
    const v2 = (e: StatusEvent): StatusEvent => ({ ...e, version: 2 });
    await applyAll([queued, fetching, chunked].map(v2));
    await applyAll(FULL_SEQUENCE);
    expect(await row(2)).toMatchObject({ version: 2, state: 'chunked', stage: 'fetch', total_chunks: 10, stored_chunks: 0 });

    await applyStatusEvent(database.pool, event({ state: 'failed', stage: 'store', error: { code: 'TIMEOUT', message: 'v1 only' } }));
    await applyStatusEvent(database.pool, event({ state: 'deleted', stage: 'store' }));
    expect(await rows()).toEqual([
      { ...completedRow, state: 'deleted' },
      {
        tenant_id: TENANT,
        document_id: DOCUMENT,
        version: 2,
        state: 'chunked',
        stage: 'fetch',
        total_chunks: 10,
        total_batches: 2,
        stored_chunks: 0,
        error_code: null,
        error_message: null,
        error_stage: null,
      },
    ]);
  });

  it('keeps tenants and documents apart', async () => {
    await applyAll(FULL_SEQUENCE);
    await applyStatusEvent(database.pool, { ...queued, tenantId: 'globex' });
    await applyStatusEvent(database.pool, { ...stored0, documentId: 'doc-2' });
    expect((await rows()).map((r) => [r.tenant_id, r.document_id, r.version, r.state, r.stored_chunks])).toEqual([
      ['acme', 'doc-1', 1, 'completed', 10],
      ['acme', 'doc-2', 1, 'storing', 6],
      ['globex', 'doc-1', 1, 'queued', 0],
    ]);
  });

  it('records why a version waits, and clears it when the next event arrives', async () => {
    const waiting = async () =>
      (
        await database.pool.query<{ state: string; waiting_reason: string | null; until: string | null }>(
          'select state, waiting_reason, (extract(epoch from waiting_until) * 1000)::bigint as until from document_status',
        )
      ).rows;
    await applyAll([queued, fetching, chunked]);
    const parked = event({
      state: 'embedding',
      stage: 'embed',
      waiting: { reason: 'tenant acme has spent its daily budget of 1000 embedding tokens', until: 1_700_006_400_000 },
    });
    await applyStatusEvent(database.pool, parked);
    expect(await waiting()).toEqual([
      { state: 'embedding', waiting_reason: 'tenant acme has spent its daily budget of 1000 embedding tokens', until: '1700006400000' },
    ]);
    await applyStatusEvent(database.pool, embedding);
    expect(await waiting()).toEqual([{ state: 'embedding', waiting_reason: null, until: null }]);
  });

  it('serialises concurrent events of one version', async () => {
    await applyAll([queued, fetching, chunked, embedding]);
    await Promise.all([stored0, stored1, stored0, stored1, completed].map((e) => applyStatusEvent(database.pool, e)));
    expect(await rows()).toEqual([completedRow]);
  });
});

describe('applyStatusEvent: the failure of a rejected message', () => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await createTestDatabase();
    await database.pool.query(
      `insert into documents (id, tenant_id, mime_type, version, content, content_sha256) values ($1, $2, 'text/plain', 3, 'x', 'h')`,
      [DOCUMENT, TENANT],
    );
  });

  afterEach(async () => {
    await database.drop();
  });

  const rejected = (fields: Partial<StatusEvent> = {}): StatusEvent => ({
    tenantId: TENANT,
    documentId: DOCUMENT,
    state: 'failed',
    stage: 'fetch',
    at: 1_700_000_000_000,
    error: { code: 'SCHEMA_INVALID', message: 'value does not match its schema: version: must be at most 2147483647 (what the database stores)' },
    rejected: true,
    ...fields,
  });

  const statuses = async () =>
    (
      await database.pool.query<{ tenant_id: string; document_id: string; version: number; state: string; error_code: string | null }>(
        'select tenant_id, document_id, version, state, error_code from document_status order by version',
      )
    ).rows;

  it('goes to the version of the document row when the message has no readable version', async () => {
    expect(await applyStatusEvent(database.pool, rejected())).toBe('failed');
    expect(await statuses()).toEqual([{ tenant_id: TENANT, document_id: DOCUMENT, version: 3, state: 'failed', error_code: 'SCHEMA_INVALID' }]);
  });

  it('keeps the message own version when the row has reached it, and the row version when not', async () => {
    await applyStatusEvent(database.pool, rejected({ version: 2 }));
    await applyStatusEvent(database.pool, rejected({ version: 9 }));
    expect((await statuses()).map((row) => row.version)).toEqual([2, 3]);
  });

  it('writes nothing for a document of another tenant, or one that does not exist', async () => {
    expect(await applyStatusEvent(database.pool, rejected({ tenantId: 'globex' }))).toBeUndefined();
    expect(await applyStatusEvent(database.pool, rejected({ documentId: 'doc-missing' }))).toBeUndefined();
    expect(await applyStatusEvent(database.pool, rejected({ tenantId: 'globex', documentId: 'doc-missing', version: 1 }))).toBeUndefined();
    expect(await statuses()).toEqual([]);
  });

  it('follows the fold: a completed version stays completed', async () => {
    await applyStatusEvent(database.pool, { ...completed, version: 3 });
    expect(await applyStatusEvent(database.pool, rejected())).toBe('completed');
  });
});

describe('applyStatusEvent: progress of a completed version', () => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await createTestDatabase();
  });

  afterEach(async () => {
    await database.drop();
  });

  const storedChunks = async (): Promise<number[]> =>
    (await database.pool.query<{ stored_chunks: number }>('select stored_chunks from document_status')).rows.map((r) => r.stored_chunks);

  it('sets stored_chunks to the total when completed arrives before a batch is counted', async () => {
    await applyStatusEvent(database.pool, stored1);
    await applyStatusEvent(database.pool, completed);
    expect(await storedChunks()).toEqual([10]);
    await applyStatusEvent(database.pool, stored0);
    expect(await storedChunks()).toEqual([10]);
  });

  // KNOWN BUG (repository.ts, the stored_chunks expression): once a version is completed with
  // totalChunks, any later event without totalChunks recomputes stored_chunks from status_batches,
  // so a completed row drops back to the chunks of the batches counted so far (10 -> 4 here).
  // Remove `.failing` when the update keeps stored_chunks from moving backwards.
  it('never lowers stored_chunks of a completed version (late duplicate event)', async () => {
    await applyStatusEvent(database.pool, stored1);
    await applyStatusEvent(database.pool, completed);
    await applyStatusEvent(database.pool, embedding);
    expect(await storedChunks()).toEqual([10]);
  });
});
