import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createPool, migrate } from '@docintel/db';
import { createTestDatabase, type TestDatabase } from '@docintel/testing';

const TABLES = [
  'consumer_inflight',
  'consumer_inflight_batches',
  'document_status',
  'documents',
  'embedding_cache',
  'parked_messages',
  'rate_windows',
  'schema_migrations',
  'status_batches',
  'stored_batches',
  'tenant_token_usage',
  'vector_versions',
];
const VERSIONS = ['001_init', '002_quotas', '003_tenant_budgets', '004_consumer_inflight'];

async function tables(db: TestDatabase): Promise<string[]> {
  const { rows } = await db.pool.query<{ name: string }>(
    `SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`,
  );
  return rows.map((row) => row.name);
}

describe('migrate', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase({ migrate: false });
  });
  afterEach(() => db.drop());

  it('applies every migration once; a second run applies nothing', async () => {
    await expect(migrate(db.pool)).resolves.toEqual({ applied: VERSIONS });
    expect(await tables(db)).toEqual(TABLES);
    await expect(migrate(db.pool)).resolves.toEqual({ applied: [] });
    const { rows } = await db.pool.query('SELECT version FROM schema_migrations');
    expect(rows).toEqual(VERSIONS.map((version) => ({ version })));
  });

  it('lets concurrent runs from separate processes wait for each other', async () => {
    const pools = [createPool(db.url), createPool(db.url), createPool(db.url)];
    try {
      const results = await Promise.all(pools.map((pool) => migrate(pool)));
      expect(results.flatMap((result) => result.applied)).toEqual(VERSIONS);
      expect(await tables(db)).toEqual(TABLES);
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
    }
  });

  it('rolls back every migration of a run when one fails', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'docintel-migrations-'));
    try {
      await writeFile(path.join(dir, '001_good.sql'), 'CREATE TABLE good (n int);');
      await writeFile(path.join(dir, '002_bad.sql'), 'CREATE TABLE bad (n int); SELECT * FROM missing;');
      await writeFile(path.join(dir, 'README.md'), 'not a migration');
      await expect(migrate(db.pool, { directory: dir })).rejects.toThrow(/migration 002_bad failed: .*missing/);
      expect(await tables(db)).toEqual([]);

      await writeFile(path.join(dir, '002_bad.sql'), 'CREATE TABLE fixed (n int);');
      await expect(migrate(db.pool, { directory: dir })).resolves.toEqual({ applied: ['001_good', '002_bad'] });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('creates a schema that enforces the document states', async () => {
    await migrate(db.pool);
    const insert = (state: string) =>
      db.pool.query(`INSERT INTO document_status (tenant_id, document_id, version, state, stage) VALUES ('t', $1, 1, $1, 'ingest')`, [state]);
    await expect(insert('queued')).resolves.toBeDefined();
    await expect(insert('bogus')).rejects.toMatchObject({ code: '23514', constraint: 'document_status_state_check' });
  });
});
