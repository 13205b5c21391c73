import { Breaker, PermanentError, TransientError } from '@docintel/core';
import { createPool } from '@docintel/db';
import { isDatabaseOutage } from '@docintel/service';
import { createTestDatabase, eventually, testLogger, type TestDatabase } from '@docintel/testing';
import { advisoryLock, markCompleted, markDeletedVersion, readVersions, recordBatch } from '../src/ledger';

const TENANT = 'acme';
const DOCUMENT = 'doc-1';

/** A batch of version 1 of `doc-1` with `chunks` chunks; `totalBatches` only on the last one. */
const batch = (batchIndex: number, chunks: number, totalBatches?: number, version = 1) => ({
  tenantId: TENANT,
  documentId: DOCUMENT,
  version,
  batchIndex,
  chunks,
  totalBatches,
});

/** A promise with its resolve function outside, to hold work until the test lets it go. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('store ledger', () => {
  let database: TestDatabase;

  beforeEach(async () => {
    database = await createTestDatabase();
  });

  afterEach(async () => {
    await database.drop();
  });

  const storedBatches = async () =>
    (
      await database.pool.query<{ version: number; batch_index: number; chunks: number; total_batches: number | null }>(
        'select version, batch_index, chunks, total_batches from stored_batches order by version, batch_index',
      )
    ).rows;

  describe('recordBatch', () => {
    it('completes a single-batch version at once', async () => {
      await expect(recordBatch(database.pool, batch(0, 7, 1))).resolves.toEqual({ complete: true, totalChunks: 7, totalBatches: 1 });
    });

    it('completes when the last batch arrives after every lower index', async () => {
      const pool = database.pool;
      await expect(recordBatch(pool, batch(0, 32))).resolves.toEqual({ complete: false, totalChunks: 32, totalBatches: null });
      await expect(recordBatch(pool, batch(1, 32))).resolves.toEqual({ complete: false, totalChunks: 64, totalBatches: null });
      await expect(recordBatch(pool, batch(2, 5, 3))).resolves.toEqual({ complete: true, totalChunks: 69, totalBatches: 3 });
      expect(await storedBatches()).toEqual([
        { version: 1, batch_index: 0, chunks: 32, total_batches: null },
        { version: 1, batch_index: 1, chunks: 32, total_batches: null },
        { version: 1, batch_index: 2, chunks: 5, total_batches: 3 },
      ]);
    });

    it('completes on the last missing lower index when the last batch came first', async () => {
      const pool = database.pool;
      await expect(recordBatch(pool, batch(2, 5, 3))).resolves.toEqual({ complete: false, totalChunks: 5, totalBatches: 3 });
      await expect(recordBatch(pool, batch(0, 32))).resolves.toEqual({ complete: false, totalChunks: 37, totalBatches: 3 });
      await expect(recordBatch(pool, batch(1, 32))).resolves.toEqual({ complete: true, totalChunks: 69, totalBatches: 3 });
    });

    it('is not complete while a lower index is missing', async () => {
      const pool = database.pool;
      await recordBatch(pool, batch(0, 32));
      await expect(recordBatch(pool, batch(2, 5, 3))).resolves.toEqual({ complete: false, totalChunks: 37, totalBatches: 3 });
      // replays of what is there do not fill the gap
      await expect(recordBatch(pool, batch(0, 32))).resolves.toEqual({ complete: false, totalChunks: 37, totalBatches: 3 });
      await expect(recordBatch(pool, batch(2, 5, 3))).resolves.toEqual({ complete: false, totalChunks: 37, totalBatches: 3 });
    });

    it('is not complete without the last batch, however many batches are in', async () => {
      const pool = database.pool;
      for (let index = 0; index < 4; index++) {
        await expect(recordBatch(pool, batch(index, 10))).resolves.toEqual({ complete: false, totalChunks: 10 * (index + 1), totalBatches: null });
      }
    });

    it('is idempotent: a replayed batch counts once, before and after completion', async () => {
      const pool = database.pool;
      await recordBatch(pool, batch(0, 32));
      await expect(recordBatch(pool, batch(0, 32))).resolves.toEqual({ complete: false, totalChunks: 32, totalBatches: null });
      await expect(recordBatch(pool, batch(1, 8, 2))).resolves.toEqual({ complete: true, totalChunks: 40, totalBatches: 2 });
      await expect(recordBatch(pool, batch(1, 8, 2))).resolves.toEqual({ complete: true, totalChunks: 40, totalBatches: 2 });
      await expect(recordBatch(pool, batch(0, 32))).resolves.toEqual({ complete: true, totalChunks: 40, totalBatches: 2 });
      expect(await storedBatches()).toEqual([
        { version: 1, batch_index: 0, chunks: 32, total_batches: null },
        { version: 1, batch_index: 1, chunks: 8, total_batches: 2 },
      ]);
    });

    it('records concurrent batches of one version exactly once each', async () => {
      const results = await Promise.all([batch(0, 3), batch(1, 3), batch(2, 3, 3), batch(1, 3), batch(0, 3)].map((b) => recordBatch(database.pool, b)));
      // Each call inserts, then counts: whichever insert lands last sees every batch, so at least
      // one caller learns of the completion (several may; completing is idempotent).
      expect(results.some((r) => r.complete)).toBe(true);
      await expect(recordBatch(database.pool, batch(2, 3, 3))).resolves.toEqual({ complete: true, totalChunks: 9, totalBatches: 3 });
      expect(await storedBatches()).toEqual([
        { version: 1, batch_index: 0, chunks: 3, total_batches: null },
        { version: 1, batch_index: 1, chunks: 3, total_batches: null },
        { version: 1, batch_index: 2, chunks: 3, total_batches: 3 },
      ]);
    });

    it('keeps versions and documents apart', async () => {
      const pool = database.pool;
      await recordBatch(pool, batch(0, 32, undefined, 1));
      await expect(recordBatch(pool, batch(1, 4, 2, 2))).resolves.toEqual({ complete: false, totalChunks: 4, totalBatches: 2 });
      await expect(recordBatch(pool, { ...batch(0, 9, 2, 2), documentId: 'doc-2' })).resolves.toEqual({ complete: false, totalChunks: 9, totalBatches: 2 });
      await expect(recordBatch(pool, { ...batch(1, 4, 2, 1), tenantId: 'globex' })).resolves.toEqual({ complete: false, totalChunks: 4, totalBatches: 2 });
      await expect(recordBatch(pool, batch(0, 6, undefined, 2))).resolves.toEqual({ complete: true, totalChunks: 10, totalBatches: 2 });
      await expect(recordBatch(pool, batch(1, 4, 2, 1))).resolves.toEqual({ complete: true, totalChunks: 36, totalBatches: 2 });
    });
  });

  describe('markCompleted, markDeletedVersion and readVersions', () => {
    it('reads nothing for a document it has not seen', async () => {
      await expect(readVersions(database.pool, TENANT, DOCUMENT)).resolves.toEqual({ completedVersion: null, deletedVersion: null });
    });

    it('only lets the completed version grow', async () => {
      const pool = database.pool;
      await markCompleted(pool, TENANT, DOCUMENT, 2);
      await expect(readVersions(pool, TENANT, DOCUMENT)).resolves.toEqual({ completedVersion: 2, deletedVersion: null });
      await markCompleted(pool, TENANT, DOCUMENT, 1);
      await markCompleted(pool, TENANT, DOCUMENT, 2);
      await expect(readVersions(pool, TENANT, DOCUMENT)).resolves.toEqual({ completedVersion: 2, deletedVersion: null });
      await markCompleted(pool, TENANT, DOCUMENT, 5);
      await expect(readVersions(pool, TENANT, DOCUMENT)).resolves.toEqual({ completedVersion: 5, deletedVersion: null });
    });

    it('only lets the deleted version grow', async () => {
      const pool = database.pool;
      await markDeletedVersion(pool, TENANT, DOCUMENT, 3);
      await expect(readVersions(pool, TENANT, DOCUMENT)).resolves.toEqual({ completedVersion: null, deletedVersion: 3 });
      await markDeletedVersion(pool, TENANT, DOCUMENT, 2);
      await expect(readVersions(pool, TENANT, DOCUMENT)).resolves.toEqual({ completedVersion: null, deletedVersion: 3 });
      await markDeletedVersion(pool, TENANT, DOCUMENT, 4);
      await expect(readVersions(pool, TENANT, DOCUMENT)).resolves.toEqual({ completedVersion: null, deletedVersion: 4 });
    });

    it('keeps the completed and deleted versions independent', async () => {
      const pool = database.pool;
      await markCompleted(pool, TENANT, DOCUMENT, 1);
      await markDeletedVersion(pool, TENANT, DOCUMENT, 2);
      await markCompleted(pool, TENANT, DOCUMENT, 3);
      await markDeletedVersion(pool, TENANT, DOCUMENT, 1);
      await expect(readVersions(pool, TENANT, DOCUMENT)).resolves.toEqual({ completedVersion: 3, deletedVersion: 2 });
    });

    it('keeps tenants and documents apart', async () => {
      const pool = database.pool;
      await markCompleted(pool, TENANT, DOCUMENT, 4);
      await markDeletedVersion(pool, 'globex', DOCUMENT, 2);
      await markCompleted(pool, TENANT, 'doc-2', 1);
      await expect(readVersions(pool, TENANT, DOCUMENT)).resolves.toEqual({ completedVersion: 4, deletedVersion: null });
      await expect(readVersions(pool, 'globex', DOCUMENT)).resolves.toEqual({ completedVersion: null, deletedVersion: 2 });
      await expect(readVersions(pool, TENANT, 'doc-2')).resolves.toEqual({ completedVersion: 1, deletedVersion: null });
    });
  });

  describe('advisoryLock', () => {
    /** Advisory locks some session waits for. */
    const waitingLocks = async (): Promise<number> =>
      Number((await database.pool.query<{ n: string }>("select count(*) as n from pg_locks where locktype = 'advisory' and not granted")).rows[0]!.n);
    const heldLocks = async (): Promise<number> =>
      Number((await database.pool.query<{ n: string }>("select count(*) as n from pg_locks where locktype = 'advisory' and granted")).rows[0]!.n);

    it('runs two works on the same namespace one after the other', async () => {
      const lock = advisoryLock(database.pool);
      const order: string[] = [];
      const firstEntered = gate();
      const firstMayEnd = gate();
      const first = lock('acme', async () => {
        order.push('first:start');
        firstEntered.open();
        await firstMayEnd.promise;
        order.push('first:end');
        return 'first';
      });
      await firstEntered.promise;
      const second = lock('acme', async () => {
        order.push('second:start');
        order.push('second:end');
        return 'second';
      });
      // The second is blocked in PostgreSQL on the lock the first holds, not merely not yet scheduled.
      await eventually(async () => (await waitingLocks()) === 1, { timeoutMs: 10_000, intervalMs: 20, description: 'the second work to wait for the lock' });
      expect(order).toEqual(['first:start']);
      firstMayEnd.open();
      await expect(Promise.all([first, second])).resolves.toEqual(['first', 'second']);
      expect(order).toEqual(['first:start', 'first:end', 'second:start', 'second:end']);
      expect(await heldLocks()).toBe(0);
    });

    it('serialises works of two processes (pools) on the same namespace', async () => {
      const otherPool = createPool(database.url, { max: 2, applicationName: 'docintel-test-other-replica' });
      try {
        const order: string[] = [];
        const firstEntered = gate();
        const firstMayEnd = gate();
        const first = advisoryLock(database.pool)('acme', async () => {
          order.push('a:start');
          firstEntered.open();
          await firstMayEnd.promise;
          order.push('a:end');
        });
        await firstEntered.promise;
        const second = advisoryLock(otherPool)('acme', async () => {
          order.push('b:start');
        });
        await eventually(async () => (await waitingLocks()) === 1, { timeoutMs: 10_000, intervalMs: 20, description: 'the other replica to wait for the lock' });
        expect(order).toEqual(['a:start']);
        firstMayEnd.open();
        await Promise.all([first, second]);
        expect(order).toEqual(['a:start', 'a:end', 'b:start']);
      } finally {
        await otherPool.end();
      }
    });

    it('lets works on different namespaces run at the same time', async () => {
      const lock = advisoryLock(database.pool);
      const order: string[] = [];
      const firstEntered = gate();
      const firstMayEnd = gate();
      const first = lock('acme', async () => {
        order.push('acme:start');
        firstEntered.open();
        await firstMayEnd.promise;
        order.push('acme:end');
      });
      await firstEntered.promise;
      // Finishes while the first still holds its lock; it would hang here if it were serialised.
      await lock('globex', async () => {
        order.push('globex:start');
        order.push('globex:end');
      });
      expect(order).toEqual(['acme:start', 'globex:start', 'globex:end']);
      expect(await heldLocks()).toBe(1);
      firstMayEnd.open();
      await first;
      expect(order).toEqual(['acme:start', 'globex:start', 'globex:end', 'acme:end']);
      expect(await heldLocks()).toBe(0);
    });

    it('releases the lock and passes on the error when the work throws', async () => {
      const lock = advisoryLock(database.pool);
      const failure = new PermanentError('DIMENSION_MISMATCH', 'vector of 7 dimensions');
      await expect(
        lock('acme', async () => {
          throw failure;
        }),
      ).rejects.toBe(failure);
      expect(await heldLocks()).toBe(0);
      await expect(lock('acme', async () => 42)).resolves.toBe(42);
    });

    it('fails as DATABASE_UNAVAILABLE when its session is killed while the lock is held, and leaves no lock behind', async () => {
      // Its own pool: the idle connection error it logs is expected here.
      const pool = createPool(database.url, { max: 2, applicationName: 'docintel-test-lock-killed', logger: testLogger() });
      try {
        const lock = advisoryLock(pool);
        const work = jest.fn(async () => {
          const holder = await database.pool.query<{ pid: number }>("select pid from pg_locks where locktype = 'advisory' and granted");
          await database.pool.query('select pg_terminate_backend($1)', [holder.rows[0]!.pid]);
          // The server ends the session, and the lock with it: another writer could take it now.
          await eventually(async () => (await heldLocks()) === 0, { timeoutMs: 10_000, intervalMs: 20, description: 'the lock to go with its session' });
          return 'written';
        });
        const error: unknown = await lock('acme', work).catch((e: unknown) => e);
        expect(work).toHaveBeenCalledTimes(1);
        expect(error).toBeInstanceOf(TransientError);
        expect(error).toMatchObject({ code: 'DATABASE_UNAVAILABLE', message: expect.stringContaining('vector store lock') });
        // The next write takes the lock on a new session.
        await expect(lock('acme', async () => heldLocks())).resolves.toBe(1);
        expect(await heldLocks()).toBe(0);
      } finally {
        await pool.end();
      }
    });

    it('takes its connection through the postgres breaker: an unreachable database opens it, and then nothing is tried', async () => {
      const unreachable = createPool('postgres://postgres@127.0.0.1:1/docintel', { logger: testLogger() });
      const breaker = new Breaker('postgres', { counts: isDatabaseOutage, consecutiveFailures: 1 });
      try {
        const lock = advisoryLock(unreachable, breaker);
        const work = jest.fn(async () => 'written');
        await expect(lock('acme', work)).rejects.toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
        expect(breaker.state).toBe('open');
        await expect(lock('acme', work)).rejects.toMatchObject({ code: 'CIRCUIT_OPEN' });
        expect(work).not.toHaveBeenCalled();
      } finally {
        breaker.shutdown();
        await unreachable.end();
      }
    });
  });
});
