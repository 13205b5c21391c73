import { execFile, execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Debian's PostgreSQL 15 binaries; `POSTGRES_BIN_DIR` names others. */
const DEFAULT_BIN_DIR = '/usr/lib/postgresql/15/bin';

export type ShutdownMode = 'smart' | 'fast' | 'immediate';

/**
 * A PostgreSQL server of one test's own (its own data directory, port and socket directory), so
 * the test can restart or stop it without disturbing any other test.
 */
export interface PostgresCluster {
  port: number;
  /** The temporary directory: data directory, socket, server log (`postgres.log`). */
  dir: string;
  /** A connection string for `database` on it (user postgres, trust authentication). @default 'postgres' */
  url(database?: string): string;
  /** `pg_ctl restart -m <mode>`, waiting until the server accepts connections again; returns how long it took. */
  restart(mode: ShutdownMode): Promise<number>;
  /** Stops the server (immediate) and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

/** A port nothing listens on at the moment of asking. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Creates a cluster with `initdb` and starts it with `pg_ctl`, on 127.0.0.1 at a free port. initdb
 * and the server refuse to run as root, so as root they run as the `postgres` user (`runuser`),
 * which then owns the directory. The server skips fsync (tests do not survive a machine crash),
 * but keeps every commit it confirms through its own crash. Pair with `stop()`,
 * which runs on process exit too, should the test not get that far.
 */
export async function startPostgresCluster(options: { binDir?: string; osUser?: string } = {}): Promise<PostgresCluster> {
  const binDir = options.binDir ?? process.env.POSTGRES_BIN_DIR ?? DEFAULT_BIN_DIR;
  const asRoot = process.getuid?.() === 0;
  const osUser = options.osUser ?? 'postgres';
  const dir = await mkdtemp(path.join(os.tmpdir(), 'docintel-pg-'));
  const data = path.join(dir, 'data');
  const log = path.join(dir, 'postgres.log');
  const tool = (name: string, args: string[]) => {
    const binary = path.join(binDir, name);
    return asRoot ? run('runuser', ['-u', osUser, '--', binary, ...args]) : run(binary, args);
  };

  let stopped = false;
  // Should the test process end without stop(), the server must not outlive it.
  const onExit = () => {
    try {
      const pid = Number(readFileSync(path.join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
      if (pid > 0) process.kill(pid, 'SIGQUIT');
    } catch {
      // not running
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', onExit);
    await tool('pg_ctl', ['stop', '-D', data, '-m', 'immediate', '-w', '-t', '60']).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  try {
    if (asRoot) {
      const id = (flag: string) => Number(execFileSync('id', [flag, osUser], { encoding: 'utf8' }).trim());
      await chown(dir, id('-u'), id('-g'));
    }
    await tool('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    const port = await freePort();
    // fsync and full-page writes only guard against the machine going down, which these tests do
    // not do. synchronous_commit stays on: with it off, an immediate shutdown loses transactions
    // the server already confirmed, which no client can tell from a fault of its own.
    const serverOptions = [`-p ${port}`, `-k ${dir}`, '-c listen_addresses=127.0.0.1', '-c fsync=off', '-c full_page_writes=off', '-c max_connections=200'];
    await tool('pg_ctl', ['start', '-D', data, '-l', log, '-w', '-t', '60', '-o', serverOptions.join(' ')]);
    return {
      port,
      dir,
      url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
      restart: async (mode) => {
        const started = Date.now();
        // -l again: the restarted server's output must not go to this process's pipe, or the call never returns.
        await tool('pg_ctl', ['restart', '-D', data, '-m', mode, '-l', log, '-w', '-t', '60']);
        return Date.now() - started;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
