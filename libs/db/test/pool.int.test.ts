import pg from 'pg';
import { TransientError } from '@docintel/core';
import { createPool, ensureDatabase, isConnectionError, toDatabaseError, withTransaction } from '@docintel/db';
import { createTestDatabase, eventually, uniqueSuffix, type TestDatabase } from '@docintel/testing';

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
