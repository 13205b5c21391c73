import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
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
  if (options.env.LOG_LEVEL === 'error' || options.env.LOG_LEVEL === 'warn') {
    // The start is recognised by the service's `started` line, an info line.
    return Promise.reject(new Error(`spawnService reads the service's "started" log line: LOG_LEVEL must be info or lower, not ${options.env.LOG_LEVEL}`));
  }
  const child = spawn(process.execPath, [serviceEntry(name)], {
    cwd: ROOT,
    env: options.env,
    stdio: ['ignore', 'pipe', 'pipe'],
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

/** Whether this system describes its processes in /proc (Linux). */
const HAS_PROC = existsSync('/proc/self/cmdline');

/** Whether a process runs (a zombie, dead but not yet reaped, does not). */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return !HAS_PROC; // gone in the meantime, or no /proc: what kill says
  }
}

/**
 * Whether a process runs and its command line names `script`, so a pid file whose pid the system
 * has given to another process since is not taken for ours (without /proc: whether it runs).
 */
export function isRunningScript(pid: number, script: string): boolean {
  if (!isRunning(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(script);
  } catch {
    return !HAS_PROC;
  }
}
