import pg from 'pg';
import { createPool, migrate } from '@docintel/db';
import { uniqueSuffix } from './eventually';

/** The server's maintenance database, where test databases are created and dropped from. */
const DEFAULT_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** A database of its own for one test (file), on the server of `TEST_DATABASE_ADMIN_URL`. */
export interface TestDatabase {
  /** Connection string of the test database, for code under test that opens its own pool. */
  url: string;
  /** `docintel_test_<random>`. */
  name: string;
  /** A pool on the test database; {@link TestDatabase.drop} closes it. */
  pool: pg.Pool;
  /** Closes the pool and drops the database, even with other sessions still connected. Idempotent. */
  drop(): Promise<void>;
}

export interface TestDatabaseOptions {
  /** Apply the docintel migrations. @default true */
  migrate?: boolean;
}

function adminUrl(): string {
  return process.env.TEST_DATABASE_ADMIN_URL ?? DEFAULT_ADMIN_URL;
}

/** Runs one statement on the maintenance database with a short-lived client. */
async function admin(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl(), application_name: 'docintel-test-admin' });
  // without a listener, the server closing the connection would crash the test process
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query(sql);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * Creates a uniquely named database and (by default) migrates it. Pair every call with `drop()`,
 * e.g. `afterEach(() => db.drop())`, so tests never see each other's rows.
 */
export async function createTestDatabase(options: TestDatabaseOptions = {}): Promise<TestDatabase> {
  const name = `docintel_test_${uniqueSuffix()}`.toLowerCase();
  const quoted = pg.escapeIdentifier(name);
  await admin(`CREATE DATABASE ${quoted}`);
  const parsed = new URL(adminUrl());
  parsed.pathname = `/${name}`;
  const url = parsed.toString();
  const pool = createPool(url, { max: 5, applicationName: 'docintel-test' });

  let dropping: Promise<void> | undefined;
  const drop = (): Promise<void> => {
    // memoised: a second call (say, from a failed setup and then afterEach) waits for the first
    dropping ??= (async () => {
      await pool.end().catch(() => undefined);
      // FORCE: code under test may have left its own pools connected
      await admin(`DROP DATABASE IF EXISTS ${quoted} WITH (FORCE)`);
    })();
    return dropping;
  };

  if (options.migrate ?? true) {
    try {
      await migrate(pool);
    } catch (error) {
      await drop().catch(() => undefined);
      throw error;
    }
  }
  return { url, name, pool, drop };
}
