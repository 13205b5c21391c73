import pg from 'pg';
import { ConfigError, envString, redactText, TransientError, type Env, type Logger } from '@docintel/core';

/** Where the services find PostgreSQL when `DATABASE_URL` is not set: the local development server. */
export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/docintel';

/**
 * Anything that runs a query: a {@link pg.Pool}, or a {@link pg.PoolClient} inside a transaction.
 * The repositories take this, so a caller can make their statements part of its own transaction.
 */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

export interface PoolOptions {
  /** Most connections the pool opens. @default 10 */
  max?: number;
  /** Shown in `pg_stat_activity`, so an operator can tell the services apart. @default 'docintel' */
  applicationName?: string;
  /** How long to wait for a connection before the query fails, in milliseconds. @default 10_000 */
  connectionTimeoutMs?: number;
  /** Receives the errors of idle connections (a server restart, a dropped network). @default a line on stderr */
  logger?: Pick<Logger, 'warn'>;
}

/**
 * A connection pool for `url`. An idle connection that breaks makes the pool emit 'error', which
 * would crash the process without a listener; here it is logged and the pool replaces the
 * connection on the next checkout, so a database restart costs failed queries, not the process.
 */
export function createPool(url: string, options: PoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.max ?? 10,
    application_name: options.applicationName ?? 'docintel',
    connectionTimeoutMillis: options.connectionTimeoutMs ?? 10_000,
  });
  pool.on('error', (error) => {
    const message = 'idle database connection failed; it will be replaced';
    if (options.logger) options.logger.warn(message, { error, database: redactUrl(url) });
    else process.stderr.write(`${message}: ${redactText(error.message)}\n`);
  });
  return pool;
}

/**
 * Reads `DATABASE_URL`, falling back to {@link DEFAULT_DATABASE_URL}. A value that is not a
 * `postgres://` URL stops the service with a {@link ConfigError} (which never repeats the value:
 * it may hold a password).
 */
export function databaseUrlFromEnv(env: Env = process.env): string {
  const url = envString(env, 'DATABASE_URL', DEFAULT_DATABASE_URL);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('DATABASE_URL', 'must be a URL like postgres://user@host:5432/database');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new ConfigError('DATABASE_URL', `must use the postgres:// scheme, got "${parsed.protocol}"`);
  }
  return url;
}

/** `url` with its password replaced by `***`, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password === '') return url;
    parsed.password = '***';
    return parsed.toString();
  } catch {
    // not a URL we can parse: fall back to the logger's pattern rather than returning it as is
    return redactText(url);
  }
}

/** Node socket errors that mean the server could not be reached or the connection broke. */
const SOCKET_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN',
  'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN',
]);
/**
 * SQLSTATEs of a server that is shutting down, starting up or full; class 08 (connection
 * exception) is matched as a class.
 */
const SERVER_CODES = new Set(['57P01', '57P02', '57P03', '53300']);
/**
 * pg raises these as plain Errors without a code, so their text is all there is to go on. Only the
 * driver's own fixed messages are listed, never server text.
 */
const DRIVER_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'timeout expired',
  'Client has encountered a connection error and is not queryable',
];

/**
 * Whether `error` (or anything in its `cause` chain, or one of an AggregateError's errors) says the
 * database could not be reached or the connection broke: trying again later may succeed.
 */
export function isConnectionError(error: unknown, depth = 0): boolean {
  if (depth > 8 || typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string' && (SOCKET_CODES.has(code) || SERVER_CODES.has(code) || code.startsWith('08'))) return true;
  if (error instanceof Error && !('code' in error) && DRIVER_MESSAGES.some((text) => error.message.startsWith(text))) return true;
  if (error instanceof AggregateError && error.errors.some((inner) => isConnectionError(inner, depth + 1))) return true;
  return error instanceof Error && isConnectionError(error.cause, depth + 1);
}

/**
 * Turns a connection failure into `TransientError('DATABASE_UNAVAILABLE')`, so the consumer runner
 * retries the message; any other error is returned unchanged. Use as `catch (e) { throw
 * toDatabaseError(e, 'reading document x') }`.
 */
export function toDatabaseError(error: unknown, action: string): unknown {
  if (error instanceof TransientError || !isConnectionError(error)) return error;
  const reason = error instanceof Error ? redactText(error.message) : String(error);
  return new TransientError('DATABASE_UNAVAILABLE', `database unavailable while ${action}: ${reason}`, { cause: error });
}

/**
 * Runs `fn` inside BEGIN/COMMIT on one connection of `pool`, rolling back when it throws. A
 * connection whose rollback fails is destroyed rather than returned to the pool, where it would
 * hand the next caller a broken transaction.
 */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let releaseError: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    try {
      await client.query('ROLLBACK');
    } catch (rollbackError) {
      releaseError = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    }
    throw error;
  } finally {
    client.release(releaseError);
  }
}
