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
 * Something calls into the database through: the stage's PostgreSQL circuit breaker (a
 * `Breaker` of `@docintel/core` is one), so that an outage opens it and the consumer holds.
 */
export interface Guard {
  fire<T>(work: () => Promise<T>): Promise<T>;
}

export interface ClientOptions {
  /** What the caller does, for the message of a DATABASE_UNAVAILABLE. @default 'using a database connection' */
  action?: string;
  /**
   * Runs the checkout of the client, so that a database that cannot be reached counts against it
   * and an open breaker fails the call at once (`CIRCUIT_OPEN`). Only the checkout: a client may
   * be held for long (a lock around other work), which a guard's timeout must not cut short.
   */
  guard?: Guard;
}

/** Marks the checked-out client as unfit for reuse: it is destroyed instead of going back to the pool. */
export type Discard = (reason: unknown) => void;

function asError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}

/** DATABASE_UNAVAILABLE for a client that lost its connection, whatever the driver's error says. */
function connectionLost(error: unknown, action: string): TransientError {
  const converted = toDatabaseError(error, action);
  if (converted instanceof TransientError && converted.code === 'DATABASE_UNAVAILABLE') return converted;
  const reason = redactText(asError(error).message);
  return new TransientError('DATABASE_UNAVAILABLE', `database connection lost while ${action}: ${reason}`, { cause: error });
}

/**
 * Runs `fn` with a client checked out of `pool`, and gives the client back afterwards. This is the
 * one way the code checks out a client (transactions, session locks), because a checked-out
 * client is on its own: the pool listens for the errors of idle clients only, and a client that
 * loses its connection (a database restart, `pg_terminate_backend`, a dropped network) emits
 * 'error', which without a listener crashes the process. So, while `fn` runs:
 *
 * - the client has an 'error' listener;
 * - a connection lost at any moment fails the call as `TransientError('DATABASE_UNAVAILABLE')`,
 *   even if `fn` itself resolved: what the client stood for (a transaction, a lock) did not last
 *   to the end. Any other error of `fn` is passed on as it is;
 * - a client whose connection broke, or that `fn` discarded, is destroyed, not returned to the
 *   pool (where it would hand the next caller a dead connection or a session still holding a
 *   lock).
 */
export async function withClient<T>(pool: pg.Pool, fn: (client: pg.PoolClient, discard: Discard) => Promise<T>, options: ClientOptions = {}): Promise<T> {
  const action = options.action ?? 'using a database connection';
  let lost: Error | undefined;
  let discarded: Error | undefined;
  const onError = (error: Error) => {
    lost ??= error;
  };
  const giveBack = (client: pg.PoolClient) => {
    const broken = lost ?? discarded;
    // A destroyed client may still report its socket's end; the listener stays to hear it.
    if (!broken) client.removeListener('error', onError);
    client.release(broken);
  };

  let pending: Promise<pg.PoolClient> | undefined;
  const checkout = () =>
    (pending = new Promise<pg.PoolClient>((resolve, reject) => {
      pool.connect((error, client) => {
        // converted inside the guard, so that a breaker counting DATABASE_UNAVAILABLE sees it
        if (error || client === undefined) return reject(asError(toDatabaseError(error ?? new Error('no client'), action)));
        // Here, not after an await: the server's next message (the FATAL of a shutdown) can come in
        // the same read as the end of a new connection's handshake, and is emitted before any
        // promise continuation runs; the pool's own listener is already off the client.
        client.on('error', onError);
        resolve(client);
      });
    }));
  let client: pg.PoolClient;
  try {
    client = await (options.guard ? options.guard.fire(checkout) : checkout());
  } catch (error) {
    // A guard that gave up before the checkout settled (a timeout) must not leak the client.
    void pending?.then(giveBack, () => undefined);
    throw toDatabaseError(error, action);
  }

  try {
    const result = await fn(client, (reason) => {
      discarded ??= asError(reason);
    });
    if (lost) throw lost;
    return result;
  } catch (error) {
    if (lost) throw connectionLost(isConnectionError(error) ? error : lost, action);
    if (isConnectionError(error)) discarded ??= asError(error);
    throw toDatabaseError(error, action);
  } finally {
    giveBack(client);
  }
}

/**
 * Runs `fn` inside BEGIN/COMMIT on one connection of `pool` (through {@link withClient}), rolling
 * back when it throws. A connection whose rollback fails is destroyed rather than returned to the
 * pool, where it would hand the next caller a broken transaction.
 */
export function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>, options: ClientOptions = {}): Promise<T> {
  return withClient(
    pool,
    async (client, discard) => {
      await client.query('BEGIN');
      try {
        const result = await fn(client);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(discard);
        throw error;
      }
    },
    { ...options, action: options.action ?? 'running a transaction' },
  );
}

/**
 * `db` with every query run through `guard` (when there is one), and connection failures turned
 * into DATABASE_UNAVAILABLE inside it, so that a breaker counting those sees them.
 */
export function guardQueryable(db: Queryable, guard?: Guard, action = 'querying PostgreSQL'): Queryable {
  const run = async <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => {
    try {
      return await db.query<R>(text, values);
    } catch (error) {
      throw toDatabaseError(error, action);
    }
  };
  return {
    query: <R extends pg.QueryResultRow>(text: string, values?: unknown[]) => (guard ? guard.fire(() => run<R>(text, values)) : run<R>(text, values)),
  };
}
