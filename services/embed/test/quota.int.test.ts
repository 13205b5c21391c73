import { classifyError, type DocintelError } from '@docintel/core';
import { createTestDatabase, eventually, type TestDatabase } from '@docintel/testing';
import { estimateTokens, SharedRateLimiter } from '../src/quota';

describe('SharedRateLimiter', () => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await createTestDatabase();
  });

  afterEach(async () => {
    await database.drop();
  });

  // Both "replicas" share one database; a test near a minute boundary could see two windows, so
  // each test first waits until at least 10 s of the current minute remain.
  const freshWindow = () =>
    eventually(() => 60_000 - (Date.now() % 60_000) > 10_000, { timeoutMs: 15_000, intervalMs: 200, description: 'a fresh minute' });

  it('holds the requests-per-minute budget across replicas', async () => {
    await freshWindow();
    const config = { requestsPerMinute: 3, tokensPerMinute: undefined, maxWaitMs: 0 };
    const a = new SharedRateLimiter(database.pool, config, 'test');
    const b = new SharedRateLimiter(database.pool, config, 'test');
    await a.acquire(10);
    await b.acquire(10);
    await a.acquire(10);
    const error = await b.acquire(10).catch((e: unknown) => e);
    expect(classifyError(error)).toMatchObject({ code: 'EMBEDDING_RATE_LIMITED', retriable: true });
    expect((error as DocintelError).details?.retryAfterMs).toBeGreaterThan(0);
    const used = await database.pool.query<{ used: string }>("select used from rate_windows where key = 'test:requests'");
    expect(used.rows.map((r) => Number(r.used))).toEqual([3]);
  });

  it('reserves requests and tokens together or not at all', async () => {
    await freshWindow();
    const limiter = new SharedRateLimiter(database.pool, { requestsPerMinute: 10, tokensPerMinute: 100, maxWaitMs: 0 }, 'test');
    await limiter.acquire(60);
    await expect(limiter.acquire(60)).rejects.toThrow(/budget is spent/);
    const rows = await database.pool.query<{ key: string; used: string }>('select key, used from rate_windows order by key');
    expect(rows.rows.map((r) => [r.key, Number(r.used)])).toEqual([
      ['test:requests', 1],
      ['test:tokens', 60],
    ]);
  });

  it('lets every request through when no limit is set', async () => {
    const limiter = new SharedRateLimiter(database.pool, { requestsPerMinute: undefined, tokensPerMinute: undefined, maxWaitMs: 0 });
    expect(limiter.enabled).toBe(false);
    for (let i = 0; i < 20; i++) await limiter.acquire(1_000);
  });

  it('estimates tokens as a quarter of the characters', () => {
    expect(estimateTokens('abcdefgh')).toBe(2);
    expect(estimateTokens('abcdefghi')).toBe(3);
  });
});
