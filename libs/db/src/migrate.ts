import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { redactText, TransientError } from '@docintel/core';
import { isConnectionError, redactUrl, toDatabaseError, withTransaction } from './pool';

/**
 * The shipped migrations. `__dirname` is `src/` under jest and `dist/` when built; both sit next
 * to `migrations/` in the package root (which package.json "files" publishes).
 */
export const MIGRATIONS_DIR = path.join(__dirname, '..', 'migrations');

/**
 * Every docintel process that migrates takes this advisory lock first, so two services starting
 * at once apply each migration exactly once. Arbitrary but fixed: the bytes of "dcnt".
 */
const MIGRATION_LOCK_KEY = 0x64636e74;

const MIGRATION_FILE = /^(\d+_[A-Za-z0-9_-]+)\.sql$/;

export interface MigrateOptions {
  /** Where the `NNN_name.sql` files are. @default {@link MIGRATIONS_DIR} */
  directory?: string;
}

export interface MigrateResult {
  /** The versions (file names without `.sql`) this call applied, in order; empty when up to date. */
  applied: string[];
}

/** The migration files in `directory`, in the order they apply (by file name). */
async function listMigrations(directory: string): Promise<{ version: string; file: string }[]> {
  const names = await readdir(directory);
  return names
    .map((name) => MIGRATION_FILE.exec(name))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ version: match[1]!, file: path.join(directory, match[0]) }))
    .sort((a, b) => (a.version < b.version ? -1 : a.version > b.version ? 1 : 0));
}

/**
 * Applies the migrations not yet recorded in `schema_migrations`, in order, in one transaction
 * under one advisory lock: a failing migration leaves the database as it was, and concurrent calls
 * wait for each other, so the second finds nothing to do. Running it again is a no-op.
 */
export async function migrate(pool: pg.Pool, options: MigrateOptions = {}): Promise<MigrateResult> {
  const migrations = await listMigrations(options.directory ?? MIGRATIONS_DIR);
  try {
    return await withTransaction(pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
      // created under the lock: two concurrent CREATE TABLE IF NOT EXISTS can still collide
      await client.query(
        `CREATE TABLE IF NOT EXISTS schema_migrations (
           version text PRIMARY KEY,
           applied_at timestamptz NOT NULL DEFAULT now()
         )`,
      );
      const done = await client.query<{ version: string }>('SELECT version FROM schema_migrations');
      const recorded = new Set(done.rows.map((row) => row.version));
      const applied: string[] = [];
      for (const migration of migrations) {
        if (recorded.has(migration.version)) continue;
        const sql = await readFile(migration.file, 'utf8');
        try {
          await client.query(sql);
        } catch (error) {
          if (isConnectionError(error)) throw error;
          throw new Error(`migration ${migration.version} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
        }
        await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [migration.version]);
        applied.push(migration.version);
      }
      return { applied };
    });
  } catch (error) {
    throw toDatabaseError(error, 'migrating');
  }
}

/** The URL of the maintenance database on the same server as `url`. */
function maintenanceUrl(url: string): { adminUrl: string; database: string } {
  const parsed = new URL(url);
  const database = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (database === '') throw new Error(`database URL names no database: ${redactUrl(url)}`);
  parsed.pathname = '/postgres';
  return { adminUrl: parsed.toString(), database };
}

/**
 * Creates the database `url` names when it does not exist yet, by connecting to the server's
 * `postgres` maintenance database with the same credentials, so `docintel migrate` works on a
 * fresh server. Returns whether it created it.
 */
export async function ensureDatabase(url: string): Promise<{ created: boolean }> {
  const { adminUrl, database } = maintenanceUrl(url);
  const client = new pg.Client({ connectionString: adminUrl, application_name: 'docintel-migrate', connectionTimeoutMillis: 10_000 });
  // a client without an 'error' listener crashes the process if the server goes away mid-call
  client.on('error', () => undefined);
  try {
    await client.connect();
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (found.rowCount !== 0) return { created: false };
    try {
      await client.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
    } catch (error) {
      // 42P04 duplicate_database: another process created it between our check and now
      if ((error as { code?: unknown }).code === '42P04') return { created: false };
      throw error;
    }
    return { created: true };
  } catch (error) {
    if (isConnectionError(error)) {
      const reason = error instanceof Error ? redactText(error.message) : String(error);
      throw new TransientError('DATABASE_UNAVAILABLE', `cannot reach ${redactUrl(adminUrl)}: ${reason}`, { cause: error });
    }
    throw error;
  } finally {
    await client.end().catch(() => undefined);
  }
}
