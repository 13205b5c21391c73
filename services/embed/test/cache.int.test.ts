import { contentHash } from '@docintel/contracts';
import { createTestDatabase, type TestDatabase } from '@docintel/testing';
import { EmbeddingCache } from '../src/cache';

const MODEL = 'docintel-local-v1';
const hashA = contentHash('Expenses above 200 EUR need a manager approval.');
const hashB = contentHash('The quarterly kayak reimbursement covers one rental per quarter.');
const hashC = contentHash('Never share your password with anyone.');

/** Values float32 holds exactly, including a negative zero and a subnormal. */
const vectorA = Float32Array.from([0.5, -0.25, 1, -0, 2 ** -140, 3.75]);
const vectorB = Float32Array.from([-1, 0.125, 0, 0.0625, -8, 1024]);

describe('EmbeddingCache', () => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await createTestDatabase();
  });

  afterEach(async () => {
    await database.drop();
  });

  it('returns exactly the vectors it was given, by hash', async () => {
    const cache = new EmbeddingCache(database.pool, MODEL, 6);
    await cache.put('acme', [
      { hash: hashA, vector: vectorA },
      { hash: hashB, vector: vectorB },
    ]);
    const found = await cache.get('acme', [hashA, hashB, hashC]);
    expect([...found.keys()].sort()).toEqual([hashA, hashB].sort());
    expect(found.get(hashA)).toEqual(vectorA);
    expect(found.get(hashB)).toEqual(vectorB);
    expect(Object.is(found.get(hashA)![3], -0)).toBe(true);
  });

  it('answers nothing for no hashes and writes nothing for no entries', async () => {
    const cache = new EmbeddingCache(database.pool, MODEL, 6);
    await cache.put('acme', []);
    await expect(cache.get('acme', [])).resolves.toEqual(new Map());
    await expect(cache.get('acme', [hashA])).resolves.toEqual(new Map());
    const rows = await database.pool.query('select * from embedding_cache');
    expect(rows.rowCount).toBe(0);
  });

  it("never answers one tenant with another tenant's vectors", async () => {
    const cache = new EmbeddingCache(database.pool, MODEL, 6);
    await cache.put('acme', [{ hash: hashA, vector: vectorA }]);
    await expect(cache.get('globex', [hashA])).resolves.toEqual(new Map());
    await cache.put('globex', [{ hash: hashA, vector: vectorB }]);
    expect((await cache.get('acme', [hashA])).get(hashA)).toEqual(vectorA);
    expect((await cache.get('globex', [hashA])).get(hashA)).toEqual(vectorB);
  });

  it('keeps models and dimensions apart', async () => {
    await new EmbeddingCache(database.pool, MODEL, 6).put('acme', [{ hash: hashA, vector: vectorA }]);
    await expect(new EmbeddingCache(database.pool, 'gemini-embedding-001', 6).get('acme', [hashA])).resolves.toEqual(new Map());
    await expect(new EmbeddingCache(database.pool, MODEL, 768).get('acme', [hashA])).resolves.toEqual(new Map());
  });

  it('keeps the first vector of a hash when it is put again', async () => {
    const cache = new EmbeddingCache(database.pool, MODEL, 6);
    await cache.put('acme', [{ hash: hashA, vector: vectorA }]);
    await cache.put('acme', [
      { hash: hashA, vector: vectorB },
      { hash: hashC, vector: vectorB },
    ]);
    const found = await cache.get('acme', [hashA, hashC]);
    expect(found.get(hashA)).toEqual(vectorA);
    expect(found.get(hashC)).toEqual(vectorB);
    const rows = await database.pool.query<{ tenant_id: string; model: string; dimension: number; bytes: number }>(
      'select tenant_id, model, dimension, octet_length(vector) as bytes from embedding_cache order by content_hash',
    );
    expect(rows.rows).toEqual([
      { tenant_id: 'acme', model: MODEL, dimension: 6, bytes: 24 },
      { tenant_id: 'acme', model: MODEL, dimension: 6, bytes: 24 },
    ]);
  });
});
