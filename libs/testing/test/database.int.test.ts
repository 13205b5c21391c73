import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '@docintel/testing';

const ADMIN_URL = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

async function databaseExists(name: string): Promise<boolean> {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    return rowCount === 1;
  } finally {
    await admin.end();
  }
}

async function tableCount(db: TestDatabase): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = 'public'`);
  return rows[0]!.n;
}

describe('createTestDatabase', () => {
  const created: TestDatabase[] = [];
  afterEach(async () => {
    await Promise.all(created.splice(0).map((db) => db.drop()));
  });

  it('creates a migrated database of its own with a unique name', async () => {
    const [a, b] = await Promise.all([createTestDatabase(), createTestDatabase()]);
    created.push(a, b);
    expect(a.name).toMatch(/^docintel_test_[a-z0-9]+$/);
    expect(a.name).not.toBe(b.name);
    expect(new URL(a.url).pathname).toBe(`/${a.name}`);
    await expect(a.pool.query('SELECT version FROM schema_migrations ORDER BY 1')).resolves.toMatchObject({
      rows: [{ version: '001_init' }, { version: '002_quotas' }, { version: '003_tenant_budgets' }, { version: '004_consumer_inflight' }],
    });
  });

  it('skips the migrations when asked', async () => {
    const db = await createTestDatabase({ migrate: false });
    created.push(db);
    expect(await tableCount(db)).toBe(0);
  });

  it('drops the database even with other sessions connected, and may be called again', async () => {
    const db = await createTestDatabase({ migrate: false });
    created.push(db);
    const other = new pg.Client({ connectionString: db.url });
    other.on('error', () => undefined);
    await other.connect();
    try {
      await Promise.all([db.drop(), db.drop()]);
      await db.drop();
      expect(await databaseExists(db.name)).toBe(false);
    } finally {
      await other.end().catch(() => undefined);
    }
  });
});
