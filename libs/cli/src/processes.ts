import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, createWriteStream, mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { ROOT } from './paths';

export const SERVICE_NAMES = ['fetch', 'embed', 'store', 'status'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface ServiceProcess {
  name: ServiceName;
  child: ChildProcess;
  pid: number;
  /** The ops port the service reported (useful with HTTP_PORT=0). */
  httpPort: number;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  /** SIGKILL, at once (chaos tests). */
  kill(): Promise<number | null>;
}

export interface SpawnOptions {
  env: NodeJS.ProcessEnv;
  /** Append the service's JSON log lines here. */
  logFile?: string;
  /** Keep running when the parent exits (the CLI's `up`). @default false */
  detached?: boolean;
  /** @default 60_000 */
  startTimeoutMs?: number;
}

/** The built entry point of a service. */
export function serviceEntry(name: ServiceName): string {
  return path.join(ROOT, 'services', name, 'dist', 'main.js');
}

/**
 * Starts one service as its own Node process and resolves once it logs `started` (with its ops
 * port); rejects with its last log lines if it exits first.
 */
export function spawnService(name: ServiceName, options: SpawnOptions): Promise<ServiceProcess> {
  if (options.detached) return spawnDetached(name, options);
  if (options.env.LOG_LEVEL === 'error' || options.env.LOG_LEVEL === 'warn') {
    // The start is recognised by the service's `started` line, an info line.
    return Promise.reject(new Error(`spawnService reads the service's "started" log line: LOG_LEVEL must be info or lower, not ${options.env.LOG_LEVEL}`));
  }
  const child = spawn(process.execPath, [serviceEntry(name)], {
    cwd: ROOT,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  let log: NodeJS.WritableStream | undefined;
  if (options.logFile) {
    mkdirSync(path.dirname(options.logFile), { recursive: true });
    log = createWriteStream(options.logFile, { flags: 'a' });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? null : 0))));
  const tail: string[] = [];
  return new Promise<ServiceProcess>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} did not start within ${options.startTimeoutMs ?? 60_000} ms:\n${tail.join('\n')}`));
    }, options.startTimeoutMs ?? 60_000);
    const lines = createInterface({ input: child.stdout });
    const errLines = createInterface({ input: child.stderr });
    const remember = (line: string) => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
    };
    errLines.on('line', remember);
    lines.on('line', (line) => {
      remember(line);
      if (!line.includes('"started"')) return;
      try {
        const entry = JSON.parse(line) as { message?: string; httpPort?: number };
        if (entry.message !== 'started' || typeof entry.httpPort !== 'number') return;
        clearTimeout(timer);
        const stop = async (graceMs = 30_000) => {
          if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
          child.kill('SIGTERM');
          const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
          const code = await exited;
          clearTimeout(killer);
          return code;
        };
        const kill = async () => {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          return exited;
        };
        resolve({ name, child, pid: child.pid!, httpPort: entry.httpPort, stop, kill });
      } catch {
        // not a JSON line
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with code ${String(code)} before it started:\n${tail.join('\n')}`));
    });
  });
}

/**
 * A service that outlives the CLI (`docintel up`): its output goes straight to the log file (a pipe
 * to a parent that has exited would break its writes), and readiness is read from `/healthz` on
 * the port given in `HTTP_PORT`.
 */
async function spawnDetached(name: ServiceName, options: SpawnOptions): Promise<ServiceProcess> {
  const port = Number(options.env.HTTP_PORT);
  if (!options.logFile || !Number.isInteger(port) || port <= 0) throw new Error('a detached service needs a log file and a fixed HTTP_PORT');
  mkdirSync(path.dirname(options.logFile), { recursive: true });
  const fd = openSync(options.logFile, 'a');
  const child = spawn(process.execPath, [serviceEntry(name)], { cwd: ROOT, env: options.env, stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  child.unref();
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}; see ${options.logFile}`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/healthz`);
      if (response.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${name} did not answer on port ${port}; see ${options.logFile}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const signal = (sig: NodeJS.Signals) => () => {
    try {
      process.kill(child.pid!, sig);
    } catch {
      // already gone
    }
    return Promise.resolve(null);
  };
  return { name, child, pid: child.pid!, httpPort: port, stop: signal('SIGTERM'), kill: signal('SIGKILL') };
}
