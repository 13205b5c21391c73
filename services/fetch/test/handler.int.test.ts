import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chunkBatchSchema, statusEventSchema, topicNames, type IngestRequest, type UpsertChunkBatch } from '@docintel/contracts';
import { upsertDocument } from '@docintel/db';
import type { ConsumedMessage, HandlerContext, OutboundMessage } from '@docintel/kafka';
import { createTestDatabase, testLogger, type TestDatabase } from '@docintel/testing';
import { loadFetchConfig, type FetchConfig } from '../src/config';
import { createFetchHandler } from '../src/handler';
import { ParsePool } from '../src/parse-pool';
import { DOCX_MIME, docxOfTinyParagraphs, pdfWithFlateBomb } from './fixtures/hostile';
import { writePdf } from './fixtures/pdf-writer';

const TENANT = 'acme';
const topics = topicNames('test.');
const fixture = (name: string): Buffer => readFileSync(path.join(__dirname, 'fixtures', name));

let offset = 0;
function consumed(value: IngestRequest): ConsumedMessage<IngestRequest> {
  offset += 1;
  return {
    value,
    key: value.tenantId,
    headers: { 'tenant-id': value.tenantId, 'trace-id': `trace-${offset}`, 'schema-version': '1' },
    topic: topics.ingest,
    partition: 0,
    offset: String(offset),
    attempt: 0,
    traceId: `trace-${offset}`,
    replayed: false,
    logger: testLogger('fetch-test'),
  };
}

/** A context that records what the handler emits and when it asks for a flush. */
function recordingContext(withFlush = true): HandlerContext & { emitted: OutboundMessage[]; flushedAt: number[] } {
  const emitted: OutboundMessage[] = [];
  const flushedAt: number[] = [];
  const context = {
    emitted,
    flushedAt,
    emit: (message: OutboundMessage) => void emitted.push(message),
    heartbeat: async () => undefined,
    flush: async () => void flushedAt.push(emitted.length),
  };
  if (!withFlush) Reflect.deleteProperty(context, 'flush');
  return context;
}

const batchesOf = (emitted: OutboundMessage[]): UpsertChunkBatch[] =>
  emitted.filter((m) => m.topic === topics.chunks).map((m) => chunkBatchSchema.parse(m.value) as UpsertChunkBatch);

// One pool for the file, small on memory so that a bomb trips it quickly; the handlers share it.
let pool: ParsePool;
let dir: string;
beforeAll(() => {
  pool = new ParsePool({ workers: 2, memoryMb: 256, timeoutMs: 20_000 });
  dir = mkdtempSync(path.join(os.tmpdir(), 'docintel-fetch-handler-'));
});
afterAll(async () => {
  await pool.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('fetch handler', () => {
  let db: TestDatabase;
  let config: FetchConfig;

  beforeEach(async () => {
    db = await createTestDatabase();
    config = loadFetchConfig({});
  });
  afterEach(() => db.drop());

  async function ingest(source: string, mimeType: string, content: Buffer, request: Partial<IngestRequest> = {}, context = recordingContext()) {
    const { id, version } = await upsertDocument(db.pool, { tenantId: TENANT, source, mimeType, content });
    const handler = createFetchHandler({ topics, db: db.pool, parsePool: pool }, config);
    await handler.handle(consumed({ tenantId: TENANT, documentId: id, version, op: 'upsert', ...request }), context);
    return { context, batches: batchesOf(context.emitted) };
  }

  it.each([
    ['guide.pdf', 'application/pdf', true],
    ['guide.docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', false],
    ['guide.md', 'text/markdown', false],
    ['guide.html', 'text/html', false],
  ])('emits valid chunk batches of %s with heading paths (and pages for PDF), titled by its first heading', async (name, mimeType, paged) => {
    const { batches, context } = await ingest(`/docs/${name}`, mimeType, fixture(name));
    expect(batches).toHaveLength(1);
    const [batch] = batches;
    expect(batch).toMatchObject({ title: 'Kayak Field Guide', mimeType, batchIndex: 0, totalBatches: 1, totalChunks: 6 });
    expect(batch!.chunks.map((c) => c.headingPath)).toEqual([
      ['Kayak Field Guide'],
      ['Kayak Field Guide', 'Safety'],
      ['Kayak Field Guide', 'Equipment'],
      ['Kayak Field Guide', 'Equipment', 'Paddles'],
      ['Expenses'],
      ['Expenses', 'Reimbursement'],
    ]);
    expect(batch!.chunks.map((c) => c.page)).toEqual(paged ? [1, 1, 2, 2, 3, 3] : Array(6).fill(undefined));
    const states = context.emitted.filter((m) => m.topic === topics.status).map((m) => (m.value as { state: string }).state);
    expect(states).toEqual(['fetching', 'chunked']);
  });

  it('leaves junk chunks out and says how many it merged and dropped in the chunked event', async () => {
    const { batches, context } = await ingest('/docs/junk.md', 'text/markdown', fixture('junk.md'));
    expect(batches).toHaveLength(1);
    expect(batches[0]!.chunks.map((c) => [c.index, c.headingPath])).toEqual([
      [0, ['Tide Tables']],
      [1, ['Tide Tables', 'Launch Times']],
    ]);
    expect(batches[0]).toMatchObject({ totalChunks: 2 });
    const chunked = context.emitted.filter((m) => m.topic === topics.status).map((m) => statusEventSchema.parse(m.value)).filter((event) => event.state === 'chunked');
    expect(chunked).toEqual([expect.objectContaining({ totalChunks: 2, totalBatches: 1, chunksMerged: 1, chunksDropped: 2 })]);
    // With the filter off, every chunk goes.
    config = { ...config, minChunkContentChars: 0 };
    expect((await ingest('/docs/junk.md', 'text/markdown', fixture('junk.md'))).batches[0]).toMatchObject({ totalChunks: 5 });
  });

  it('retries a message whose row is not there (yet): DOCUMENT_NOT_FOUND, retriable', async () => {
    const handler = createFetchHandler({ topics, db: db.pool, parsePool: pool }, config);
    const context = recordingContext();
    await expect(handler.handle(consumed({ tenantId: TENANT, documentId: 'acme-not-yet', version: 1, op: 'upsert' }), context)).rejects.toMatchObject({
      code: 'DOCUMENT_NOT_FOUND',
      retriable: true,
      message: 'document "acme-not-yet" does not exist',
    });
    expect(context.emitted).toEqual([]);
  });

  it('takes the strategy and sizes from the request, and names the file when there is no heading', async () => {
    const text = Buffer.from(Array.from({ length: 200 }, (_, i) => `Word${i}`).join(' '));
    const { batches } = await ingest('/docs/notes.txt', 'text/plain', text, { chunking: { strategy: 'fixed', size: 32, overlap: 8 } });
    const chunks = batches.flatMap((b) => b.chunks);
    expect(batches[0]!.title).toBe('notes.txt');
    expect(chunks[1]!.text.startsWith(chunks[0]!.text.split(' ').slice(-4).join(' '))).toBe(true);
    expect(chunks.every((c) => c.headingPath === undefined && c.page === undefined)).toBe(true);
  });

  it('rejects chunking that does not fit together, naming the field', async () => {
    config = loadFetchConfig({ CHUNK_STRATEGY: 'fixed' });
    await expect(ingest('/docs/a.txt', 'text/plain', Buffer.from('text'), { chunking: { size: 100, overlap: 60 } })).rejects.toMatchObject({
      code: 'INVALID_OPTIONS',
      details: { field: 'overlap' },
    });
  });

  it('sends a large document in flushes while it is parsed, and the totals on the last batch', async () => {
    config = { ...config, flushBytes: 64 * 1024 };
    const page = Array.from({ length: 40 }, (_, i) => ({ text: `Line ${i} of a page about kayaks, paddles, spray decks and the treasurer.` }));
    const { batches, context } = await ingest('/docs/big.pdf', 'application/pdf', writePdf(Array.from({ length: 120 }, () => page)));
    expect(context.flushedAt.length).toBeGreaterThan(3);
    // Each flush happened with only the batches made so far queued, before the document was done.
    expect(context.flushedAt[0]).toBeLessThan(context.emitted.length / 2);
    expect(batches.map((b) => b.batchIndex)).toEqual(batches.map((_, i) => i));
    expect(batches.at(-1)).toMatchObject({ totalBatches: batches.length, totalChunks: batches.reduce((n, b) => n + b.chunks.length, 0) });
    expect(batches.slice(0, -1).every((b) => b.totalBatches === undefined)).toBe(true);
    expect(batches.at(-1)!.chunks.at(-1)!.pageEnd).toBe(120);
  });

  it('works with a context that has no flush', async () => {
    config = { ...config, flushBytes: 64 * 1024 };
    const text = Buffer.from('A paragraph about kayaks and paddles.\n\n'.repeat(20_000));
    const { batches } = await ingest('/docs/big.txt', 'text/plain', text, {}, recordingContext(false));
    expect(batches.length).toBeGreaterThan(10);
  });

  it.each([
    ['an encrypted PDF', 'application/pdf', () => fixture('encrypted.pdf'), 'CORRUPT_DOCUMENT'],
    ['a PDF without text', 'application/pdf', () => fixture('blank.pdf'), 'EMPTY_DOCUMENT'],
    ['a corrupt DOCX', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', () => fixture('guide.docx').subarray(0, 500), 'CORRUPT_DOCUMENT'],
    ['an unsupported type', 'application/vnd.ms-excel', () => Buffer.from('x'), 'UNSUPPORTED_MEDIA_TYPE'],
  ])('fails %s for good, emitting nothing', async (_name, mimeType, content, code) => {
    const context = recordingContext();
    await expect(ingest('/docs/bad', mimeType, content(), {}, context)).rejects.toMatchObject({ code, retriable: false });
    expect(context.flushedAt).toEqual([]);
    expect(batchesOf(context.emitted)).toEqual([]);
  });

  it('refuses a row over MAX_DOCUMENT_BYTES from its size alone: 280 MB never reach the driver', async () => {
    const { id, version } = await upsertDocument(db.pool, { tenantId: TENANT, source: '/docs/huge.txt', mimeType: 'text/plain', content: Buffer.from('small') });
    // Made by the server itself: as a query parameter it would be a 560 MB hex string, past V8's limit.
    await db.pool.query(`UPDATE documents SET content = convert_to(repeat('a', 280000000), 'UTF8') WHERE id = $1`, [id]);
    const before = process.memoryUsage.rss();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);
    const context = recordingContext();
    const handler = createFetchHandler({ topics, db: db.pool, parsePool: pool }, config);
    try {
      await expect(handler.handle(consumed({ tenantId: TENANT, documentId: id, version, op: 'upsert' }), context)).rejects.toMatchObject({
        code: 'DOCUMENT_TOO_LARGE',
        retriable: false,
        message: 'document is 280000000 bytes, over the limit of 52428800 bytes',
      });
    } finally {
      clearInterval(sampler);
    }
    console.log(`a 280 MB row refused: this process's RSS grew by ${((peak - before) / 1024 / 1024).toFixed(1)} MB`);
    expect(peak - before).toBeLessThan(64 * 1024 * 1024);
    expect(batchesOf(context.emitted)).toEqual([]);
  }, 60_000);

  it('reads content within the limit in slices, whole', async () => {
    // 21 MB: three slices of the database read; every paragraph numbered so none can go missing.
    const paragraphs = Array.from({ length: 600_000 }, (_, i) => `Paragraph ${i} is about kayaks.`);
    const text = Buffer.from(paragraphs.join('\n\n'));
    expect(text.length).toBeGreaterThan(2 * 8 * 1024 * 1024);
    config = { ...config, batchMaxChunks: 1000, batchMaxChars: 800_000, flushBytes: 64 * 1024 * 1024 };
    const { batches } = await ingest('/docs/long.txt', 'text/plain', text);
    const chunks = batches.flatMap((b) => b.chunks);
    const joined = chunks.map((c) => c.text).join('\n\n');
    for (let i = 0; i < paragraphs.length; i += 997) expect(joined).toContain(`Paragraph ${i} is about kayaks.`);
    expect(chunks.at(-1)!.text.endsWith('Paragraph 599999 is about kayaks.')).toBe(true);
  }, 60_000);

  it.each([
    ['a DOCX of 300 MB of tiny paragraphs', DOCX_MIME, () => readFileSync(docxOfTinyParagraphs(dir).path), 'MAX_DECOMPRESSED_BYTES'],
    ['a PDF with a 1 GiB Flate stream', 'application/pdf', () => readFileSync(pdfWithFlateBomb(dir).path), 'PARSE_MEMORY_MB'],
  ])('fails %s with PARSE_LIMIT, emitting nothing, and reads the next document', async (_name, mimeType, content, limit) => {
    const context = recordingContext();
    await expect(ingest('/docs/hostile', mimeType, content(), {}, context)).rejects.toMatchObject({ code: 'PARSE_LIMIT', retriable: false, details: { limit } });
    expect(batchesOf(context.emitted)).toEqual([]);
    const { batches } = await ingest('/docs/guide.docx', DOCX_MIME, fixture('guide.docx'));
    expect(batches[0]).toMatchObject({ title: 'Kayak Field Guide', totalChunks: 6 });
  }, 60_000);
});
