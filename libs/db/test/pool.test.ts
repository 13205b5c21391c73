import { ConfigError, TransientError } from '@docintel/core';
import { EventEmitter } from 'node:events';
import type pg from 'pg';
import { DEFAULT_DATABASE_URL, databaseUrlFromEnv, isConnectionError, redactUrl, toDatabaseError, withClient } from '@docintel/db';

describe('databaseUrlFromEnv', () => {
  it('reads DATABASE_URL and falls back to the local server', () => {
    expect(databaseUrlFromEnv({ DATABASE_URL: 'postgres://u@db:5432/x' })).toBe('postgres://u@db:5432/x');
    expect(databaseUrlFromEnv({})).toBe(DEFAULT_DATABASE_URL);
    expect(databaseUrlFromEnv({ DATABASE_URL: '  ' })).toBe(DEFAULT_DATABASE_URL);
  });

  it('names the variable, without repeating a password, when the value is not a postgres URL', () => {
    expect(() => databaseUrlFromEnv({ DATABASE_URL: 'mysql://u:hunter2@db/x' })).toThrow(ConfigError);
    expect(() => databaseUrlFromEnv({ DATABASE_URL: 'mysql://u:hunter2@db/x' })).toThrow(/^DATABASE_URL: (?!.*hunter2)/);
    expect(() => databaseUrlFromEnv({ DATABASE_URL: 'not a url' })).toThrow(/DATABASE_URL/);
  });
});

describe('redactUrl', () => {
  it('hides the password and keeps the rest', () => {
    expect(redactUrl('postgres://app:s3cr%40t@db:5432/docintel?sslmode=require')).toBe('postgres://app:***@db:5432/docintel?sslmode=require');
  });

  it('leaves a URL without a password as it is', () => {
    expect(redactUrl(DEFAULT_DATABASE_URL)).toBe(DEFAULT_DATABASE_URL);
  });

  it('still hides a password in something that does not parse as a URL', () => {
    expect(redactUrl('postgres://app:secret@db:bad-port/x')).not.toContain('secret');
  });
});

describe('isConnectionError', () => {
  const withCode = (code: string): Error => Object.assign(new Error('boom'), { code });

  it.each(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', '08006', '08001', '57P01', '57P03', '53300'])('is true for %s', (code) => {
    expect(isConnectionError(withCode(code))).toBe(true);
  });

  it.each(['23505', '42P01', '40001', 'ERR_SOMETHING'])('is false for %s', (code) => {
    expect(isConnectionError(withCode(code))).toBe(false);
  });

  it("recognises the driver's own connection messages, but not server messages with a code", () => {
    expect(isConnectionError(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isConnectionError(new Error('timeout exceeded when trying to connect'))).toBe(true);
    expect(isConnectionError(Object.assign(new Error('Connection terminated'), { code: '42601' }))).toBe(false);
  });

  it('looks through causes and AggregateErrors', () => {
    expect(isConnectionError(new Error('outer', { cause: withCode('ECONNREFUSED') }))).toBe(true);
    expect(isConnectionError(new AggregateError([new Error('x'), withCode('ECONNREFUSED')]))).toBe(true);
    expect(isConnectionError(undefined)).toBe(false);
    expect(isConnectionError('ECONNREFUSED')).toBe(false);
  });
});

describe('toDatabaseError', () => {
  it('turns a connection failure into a retriable DATABASE_UNAVAILABLE without the password', () => {
    const cause = Object.assign(new Error('connect to postgres://app:secret@db/x failed'), { code: 'ECONNREFUSED' });
    const error = toDatabaseError(cause, 'reading document d1');
    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ code: 'DATABASE_UNAVAILABLE', retriable: true, cause });
    expect((error as Error).message).toContain('reading document d1');
    expect((error as Error).message).not.toContain('secret');
  });

  it('returns any other error unchanged', () => {
    const other = Object.assign(new Error('duplicate key'), { code: '23505' });
    expect(toDatabaseError(other, 'x')).toBe(other);
  });
});

describe('withClient (a stand-in pool)', () => {
  /**
   * A pool whose client dies in the same tick it is handed over, as when the FATAL of a server
   * shutdown arrives in the same read as the end of a new connection's handshake: the driver
   * emits it before any promise continuation could attach a listener.
   */
  function dyingPool() {
    const client = Object.assign(new EventEmitter(), { release: jest.fn(), query: jest.fn() });
    const pool = {
      connect: (callback: (error: Error | undefined, client: unknown) => void) => {
        callback(undefined, client);
        client.emit('error', Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }));
      },
    };
    return { pool: pool as unknown as pg.Pool, client };
  }

  it('hears an error emitted right after the checkout, fails as DATABASE_UNAVAILABLE and destroys the client', async () => {
    const { pool, client } = dyingPool();
    const fn = jest.fn(async () => 'done');
    await expect(withClient(pool, fn, { action: 'testing' })).rejects.toMatchObject({ code: 'DATABASE_UNAVAILABLE', retriable: true });
    expect(client.release).toHaveBeenCalledWith(expect.objectContaining({ code: '57P01' }));
    // still heard after the release, should the socket report its end too
    expect(client.listenerCount('error')).toBe(1);
  });
});
