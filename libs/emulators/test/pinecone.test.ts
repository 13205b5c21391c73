import { startPineconeEmulator, type PineconeEmulator } from '@docintel/emulators';
import { Pinecone, type Index } from '@pinecone-database/pinecone';

const KEY = 'pc-emulator-key-91c';
const DIMENSION = 4;

function unit(...values: number[]): number[] {
  const norm = Math.hypot(...values);
  return values.map((value) => value / norm);
}

describe('Pinecone emulator', () => {
  let emulator: PineconeEmulator;
  let index: Index;

  beforeEach(async () => {
    emulator = await startPineconeEmulator({ apiKey: KEY, dimension: DIMENSION });
    index = new Pinecone({ apiKey: KEY, maxRetries: 0 }).index({ host: emulator.url });
  });

  afterEach(async () => {
    await emulator.close();
  });

  it('upserts and queries through the real SDK, nearest first, namespaces apart', async () => {
    const acme = index.namespace('acme');
    await acme.upsert({
      records: [
        { id: 'a', values: unit(1, 0, 0, 0), metadata: { text: 'east', version: 1 } },
        { id: 'b', values: unit(1, 1, 0, 0), metadata: { text: 'north-east' } },
        { id: 'c', values: unit(0, 0, 1, 0) },
      ],
    });
    await index.namespace('globex').upsert({ records: [{ id: 'g', values: unit(1, 0, 0, 0) }] });

    const result = await acme.query({ vector: unit(1, 0.1, 0, 0), topK: 2, includeMetadata: true });
    expect(result.matches.map((m) => m.id)).toEqual(['a', 'b']);
    expect(result.matches[0]!.score).toBeCloseTo(0.995, 3);
    expect(result.matches[0]!.metadata).toEqual({ text: 'east', version: 1 });

    const stats = await index.describeIndexStats();
    expect(stats).toMatchObject({ dimension: DIMENSION, totalRecordCount: 4, namespaces: { acme: { recordCount: 3 }, globex: { recordCount: 1 } } });
    expect((await index.namespace('initech').query({ vector: unit(1, 0, 0, 0), topK: 5 })).matches).toEqual([]);

    const recorded = emulator.requests()[0]!;
    expect(recorded).toMatchObject({ method: 'POST', path: '/vectors/upsert', status: 200 });
    expect(recorded.headers['api-key']).toBe('<redacted>');
    expect(recorded.headers['x-pinecone-api-version']).toBe('2026-07');
  });

  it('lists ids by prefix, 100 to a page, with pagination tokens', async () => {
    const ns = index.namespace('acme');
    const records = Array.from({ length: 250 }, (_, i) => ({ id: `doc#1#${String(i).padStart(3, '0')}`, values: unit(1, i, 0, 0) }));
    await ns.upsert({ records: [...records, { id: 'other#1#0', values: unit(0, 1, 0, 0) }] });
    const ids: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await ns.listPaginated({ prefix: 'doc#', ...(token === undefined ? {} : { paginationToken: token }) });
      ids.push(...page.vectors!.map((v) => v.id!));
      token = page.pagination?.next;
      pages++;
    } while (token);
    expect(pages).toBe(3);
    expect(ids).toEqual(records.map((r) => r.id));
    expect(emulator.requests().at(-1)!.query).toMatchObject({ prefix: ['doc#'], namespace: ['acme'] });
  });

  it('fetches, deletes by id and by filter, and forgets empty namespaces', async () => {
    const ns = index.namespace('acme');
    await ns.upsert({
      records: [
        { id: 'd#1#0', values: unit(1, 0, 0, 0), metadata: { documentId: 'd', version: 1 } },
        { id: 'd#2#0', values: unit(0, 1, 0, 0), metadata: { documentId: 'd', version: 2 } },
        { id: 'e#1#0', values: unit(0, 0, 1, 0), metadata: { documentId: 'e', version: 1 } },
      ],
    });
    expect(Object.keys((await ns.fetch({ ids: ['d#1#0', 'missing'] })).records)).toEqual(['d#1#0']);
    await ns.deleteMany({ filter: { documentId: { $eq: 'd' }, version: { $lt: 2 } } });
    await ns.deleteMany({ ids: ['e#1#0'] });
    expect((await ns.listPaginated()).vectors!.map((v) => v.id)).toEqual(['d#2#0']);
    await ns.deleteMany({ ids: ['d#2#0'] });
    expect((await index.describeIndexStats()).namespaces).toEqual({});
    await expect(ns.deleteMany({ ids: ['x'] })).rejects.toMatchObject({ name: 'PineconeNotFoundError' });
    expect(emulator.stats().counters).toMatchObject({ vectors: 0, upserted: 3, deleted: 3 });
  });

  it('filters queries on metadata', async () => {
    const ns = index.namespace('acme');
    await ns.upsert({
      records: [
        { id: 'a', values: unit(1, 0, 0, 0), metadata: { tags: ['x', 'y'], page: 1 } },
        { id: 'b', values: unit(1, 0.1, 0, 0), metadata: { tags: ['z'], page: 5 } },
      ],
    });
    const ids = async (filter: object) => (await ns.query({ vector: unit(1, 0, 0, 0), topK: 5, filter })).matches.map((m) => m.id);
    expect(await ids({ tags: 'y' })).toEqual(['a']);
    expect(await ids({ tags: { $in: ['z', 'q'] } })).toEqual(['b']);
    expect(await ids({ $or: [{ page: { $gte: 5 } }, { tags: 'x' }] })).toEqual(['a', 'b']);
    expect(await ids({ page: { $exists: false } })).toEqual([]);
  });

  it("enforces the data plane's limits", async () => {
    const ns = index.namespace('acme');
    const many = Array.from({ length: 1001 }, (_, i) => ({ id: `v${i}`, values: unit(1, 0, 0, 0) }));
    await expect(ns.upsert({ records: many })).rejects.toThrow(/exceeds the maximum of 1000/);
    await expect(ns.upsert({ records: [{ id: 'v', values: [1, 0] }] })).rejects.toThrow(/Vector dimension 2 does not match the dimension of the index 4/);
    await expect(ns.upsert({ records: [{ id: 'v', values: unit(1, 0, 0, 0), metadata: { text: 'x'.repeat(41_000) } }] })).rejects.toThrow(/exceeds the limit of 40960 bytes/);
    await expect(ns.upsert({ records: [{ id: 'v', values: unit(1, 0, 0, 0), metadata: { nested: { a: 1 } as never } }] })).rejects.toThrow(/must be a string, number, boolean or list of strings/);
    // 60 records of ~38 KB metadata: ~2.3 MB in one request.
    const big = Array.from({ length: 60 }, (_, i) => ({ id: `big${i}`, values: unit(1, 0, 0, 0), metadata: { text: 'y'.repeat(38_000) } }));
    await expect(ns.upsert({ records: big })).rejects.toThrow(/exceeds the maximum supported size/);
    await ns.upsert({ records: [{ id: 'ok', values: unit(1, 0, 0, 0) }] });
    await expect(ns.deleteMany({ ids: Array.from({ length: 1001 }, (_, i) => `v${i}`) })).rejects.toThrow(/at most 1000 ids/);
    expect(emulator.stats().counters.vectors).toBe(1);
  });

  it('rejects a wrong API key with 401', async () => {
    const wrong = new Pinecone({ apiKey: 'wrong-key', maxRetries: 0 }).index({ host: emulator.url });
    await expect(wrong.describeIndexStats()).rejects.toMatchObject({ name: 'PineconeAuthorizationError' });
    expect(emulator.stats().byStatus).toEqual({ 401: 1 });
  });

  it('injects 429s with Retry-After and server errors', async () => {
    await emulator.setFaults({ rateLimitRate: 1, retryAfterSeconds: 2 });
    const limited = await fetch(`${emulator.url}/query`, { method: 'POST', headers: { 'api-key': KEY }, body: '{"topK":1,"vector":[1,0,0,0]}' });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('2');
    expect(await limited.json()).toMatchObject({ code: 8 });
    await emulator.setFaults({ rateLimitRate: 0, serverErrorRate: 1 });
    await expect(index.describeIndexStats()).rejects.toMatchObject({ name: 'PineconeMaxRetriesExceededError' });
    expect(emulator.stats().injected).toMatchObject({ rateLimited: 1, serverErrors: 1 });
  });
});
