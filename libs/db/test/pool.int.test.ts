import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { TransientError } from '@docintel/core';
import { createPool, ensureDatabase, guardQueryable, isConnectionError, toDatabaseError, withClient, withTransaction, type Guard } from '@docintel/db';
import { createTestDatabase, eventually, testLogger, uniqueSuffix, type TestDatabase } from '@docintel/testing';

/** Nothing listens on port 1, so connecting fails at once. */
const UNREACHABLE_URL = 'postgres://postgres:secret@127.0.0.1:1/docintel';

describe('createPool', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase({ migrate: false });
  });
  afterEach(() => db.drop());

  it('reports an idle connection killed by the server instead of crashing', async () => {
    const warn = jest.fn();
    const pool = createPool(db.url, { max: 1, applicationName: 'docintel-pool-test', logger: { warn } });
    try {
      const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
      await eventually(() => warn.mock.calls.length > 0, { description: 'the pool error to be logged' });
      expect(warn.mock.calls[0]![1]).toMatchObject({ database: db.url });
      // the pool replaces the dead connection
      await expect(pool.query('SELECT 1 AS one')).resolves.toMatchObject({ rows: [{ one: 1 }] });
    } finally {
      await pool.end();
    }
  });

  it('sets the application name', async () => {
    const pool = createPool(db.url, { applicationName: 'docintel-app-name-test' });
    try {
      const { rows } = await pool.query<{ name: string }>('SELECT current_setting($1) AS name', ['application_name']);
      expect(rows[0]!.name).toBe('docintel-app-name-test');
    } finally {
      await pool.end();
    }
  });

  it('fails queries on an unreachable server with a connection error', async () => {
    const pool = createPool(UNREACHABLE_URL);
    try {
      const error: unknown = await pool.query('SELECT 1').catch((e: unknown) => e);
      expect(isConnectionError(error)).toBe(true);
      expect(toDatabaseError(error, 'probing')).toBeInstanceOf(TransientError);
    } finally {
      await pool.end();
    }
  });
});

describe('withTransaction', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase({ migrate: false });
    await db.pool.query('CREATE TABLE t (n int)');
  });
  afterEach(() => db.drop());

  it('commits what fn did and returns its result', async () => {
    const result = await withTransaction(db.pool, async (client) => {
      await client.query('INSERT INTO t VALUES (1)');
      return 'done';
    });
    expect(result).toBe('done');
    expect((await db.pool.query('SELECT n FROM t')).rows).toEqual([{ n: 1 }]);
  });

  it('fails as DATABASE_UNAVAILABLE when the session is killed mid-transaction, and commits nothing', async () => {
    const error: unknown = await withTransaction(db.pool, async (client) => {
      await client.query('INSERT INTO t VALUES (1)');
      await terminate(db.pool, client);
      await client.query('INSERT INTO t VALUES (2)');
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
    expect((await db.pool.query('SELECT n FROM t')).rows).toEqual([]);
  });

  it('rolls back and rethrows when fn throws, and returns a usable connection', async () => {
    const failure = new Error('fn failed');
    await expect(
      withTransaction(db.pool, async (client) => {
        await client.query('INSERT INTO t VALUES (1)');
        throw failure;
      }),
    ).rejects.toBe(failure);
    expect((await db.pool.query('SELECT n FROM t')).rows).toEqual([]);
    await expect(withTransaction(db.pool, async (client) => (await client.query<{ one: number }>('SELECT 1 AS one')).rows)).resolves.toEqual([{ one: 1 }]);
  });
});

/** Ends the session of `client`'s backend from another connection, as a database restart would. */
async function terminate(admin: pg.Pool, client: pg.PoolClient): Promise<void> {
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const ended = new Promise((resolve) => client.once('end', resolve));
  await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
  // 'end' comes after the client has emitted its 'error': by now an unheard one would have crashed us.
  await ended;
}

/** A guard that lets everything through and keeps the errors it saw. */
function recordingGuard(): { guard: Guard; seen: unknown[] } {
  const seen: unknown[] = [];
  const guard: Guard = {
    fire: async (work) => {
      try {
        return await work();
      } catch (error) {
        seen.push(error);
        throw error;
      }
    },
  };
  return { guard, seen };
}

describe('withClient', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  beforeEach(async () => {
    db = await createTestDatabase({ migrate: false });
    pool = createPool(db.url, { max: 2, applicationName: 'docintel-with-client-test', logger: testLogger() });
  });
  afterEach(async () => {
    await pool.end();
    await db.drop();
  });

  const backendPid = async () => withClient(pool, async (client) => (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid);

  it('returns what fn returned and gives the same session back to the pool', async () => {
    const first = await backendPid();
    await expect(withClient(pool, async (client) => (await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one)).resolves.toBe(1);
    expect(await backendPid()).toBe(first);
    // no listener is left behind on a client that goes back to the pool
    await withClient(pool, async (client) => expect(client.listenerCount('error')).toBe(1));
  });

  it('fails as DATABASE_UNAVAILABLE when the session is killed while checked out, and destroys the client', async () => {
    const before = await backendPid();
    const error: unknown = await withClient(
      pool,
      async (client) => {
        await terminate(db.pool, client);
        return 'finished regardless';
      },
      { action: 'holding a test session' },
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ code: 'DATABASE_UNAVAILABLE', message: expect.stringContaining('holding a test session') });
    expect(await backendPid()).not.toBe(before);
  });

  it('passes on an error of fn unchanged, and destroys a client that fn discarded', async () => {
    const failure = new Error('fn failed');
    await expect(withClient(pool, async () => Promise.reject(failure))).rejects.toBe(failure);
    const before = await backendPid();
    await withClient(pool, async (_client, discard) => discard(new Error('holds a lock it could not release')));
    expect(await backendPid()).not.toBe(before);
  });

  it('checks the client out through the guard: unreachable counts there as DATABASE_UNAVAILABLE, an open guard checks out nothing', async () => {
    const { guard: recording, seen } = recordingGuard();
    const unreachable = createPool(UNREACHABLE_URL, { logger: testLogger() });
    try {
      await expect(withClient(unreachable, async () => 'never', { guard: recording })).rejects.toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
      expect(seen).toEqual([expect.objectContaining({ code: 'DATABASE_UNAVAILABLE' })]);
      expect((seen[0] as Error).message).not.toContain('secret');
    } finally {
      await unreachable.end();
    }
    const open: Guard = { fire: async () => Promise.reject(new TransientError('CIRCUIT_OPEN', 'postgres is unavailable (circuit open)')) };
    const fn = jest.fn(async () => 'never');
    await expect(withClient(pool, fn, { guard: open })).rejects.toMatchObject({ code: 'CIRCUIT_OPEN' });
    expect(fn).not.toHaveBeenCalled();
    expect(pool.totalCount).toBe(0);
  });
});

describe('guardQueryable', () => {
  it('runs every query through the guard, with connection failures as DATABASE_UNAVAILABLE inside it', async () => {
    const unreachable = createPool(UNREACHABLE_URL, { logger: testLogger() });
    const { guard, seen } = recordingGuard();
    try {
      await expect(guardQueryable(unreachable, guard).query('SELECT 1')).rejects.toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
      expect(seen).toEqual([expect.objectContaining({ code: 'DATABASE_UNAVAILABLE' })]);
    } finally {
      await unreachable.end();
    }
  });
});

/**
 * The crash itself happens in a process: a checked-out client without an 'error' listener whose
 * session dies takes the whole process down. Each case runs in a Node process of its own (on the
 * built library) that kills its own session and then reports.
 */
describe('a checked-out client whose session dies, in a process of its own', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase({ migrate: false });
  });
  afterAll(() => db.drop());

  const runChild = async (body: string) => {
    const script = `
      const { createPool, withClient, withTransaction } = require(${JSON.stringify(path.resolve(__dirname, '..', 'dist'))});
      const pool = createPool(process.env.URL, { max: 2, logger: { warn: () => undefined } });
      const admin = createPool(process.env.URL, { max: 1 });
      async function kill(client) {
        const { rows } = await client.query('SELECT pg_backend_pid() AS pid');
        const ended = new Promise((resolve) => client.once('end', resolve));
        await admin.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
        await ended;
      }
      (async () => { ${body} })().then(
        (result) => Promise.all([pool.end(), admin.end()]).then(() => console.log(JSON.stringify({ result }))),
        (error) => Promise.all([pool.end(), admin.end()]).then(() => console.log(JSON.stringify({ code: error.code, message: error.message }))),
      );`;
    return promisify(execFile)(process.execPath, ['-e', script], { env: { ...process.env, URL: db.url }, timeout: 30_000 }).then(
      ({ stdout }) => ({ exitCode: 0, output: stdout }),
      (error: { code?: number; stdout?: string; stderr?: string }) => ({ exitCode: error.code, output: `${error.stdout ?? ''}${error.stderr ?? ''}` }),
    );
  };

  it('crashes the process when the client is taken with pool.connect() alone (the defect)', async () => {
    const { exitCode, output } = await runChild(`const client = await pool.connect(); await kill(client); client.release(); return 'survived';`);
    expect(exitCode).not.toBe(0);
    expect(output).toMatch(/Unhandled 'error' event/);
    expect(output).toContain('terminating connection due to administrator command');
  });

  it('keeps the process running with withTransaction and withClient: the calls fail as DATABASE_UNAVAILABLE', async () => {
    for (const helper of ['withTransaction', 'withClient']) {
      const { exitCode, output } = await runChild(`return ${helper}(pool, async (client) => { await kill(client); return 'committed?'; });`);
      expect({ helper, exitCode }).toEqual({ helper, exitCode: 0 });
      expect(JSON.parse(output.trim())).toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
    }
  });
});

describe('ensureDatabase', () => {
  const adminUrl = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
  let name: string;
  beforeEach(() => {
    name = `docintel_test_ensure_${uniqueSuffix()}`;
  });
  afterEach(async () => {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  });

  it('creates a missing database once', async () => {
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    await expect(ensureDatabase(url.toString())).resolves.toEqual({ created: true });
    await expect(ensureDatabase(url.toString())).resolves.toEqual({ created: false });
    const client = new pg.Client({ connectionString: url.toString() });
    await client.connect();
    await client.end();
  });

  it('reports an unreachable server as DATABASE_UNAVAILABLE without the password', async () => {
    const error: unknown = await ensureDatabase(UNREACHABLE_URL).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ code: 'DATABASE_UNAVAILABLE' });
    expect((error as Error).message).not.toContain('secret');
  });
});
