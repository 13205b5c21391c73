/**
 * The supervisor `docintel up` runs each service (and emulator) under: a small detached Node
 * process that starts its one child, restarts it whenever it exits with an exponential backoff
 * (1 s doubling to 60 s, back to 1 s once a run has lasted 60 s), logs each exit and restart to the
 * child's log, and keeps a state file that `status` and `up` read. On SIGTERM or SIGINT (`docintel
 * down`) it stops the child gracefully (SIGTERM; SIGKILL after the grace) and exits.
 *
 *   node libs/cli/dist/supervisor.js <name> <state file> <grace ms> -- <script> [args...]
 *
 * The child's output, and the supervisor's own lines, go to the supervisor's stdout and stderr: the
 * log file `up` opened for them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createLogger, errorMessage, type Logger } from '@docintel/core';
import { ROOT } from './paths';

export interface Backoff {
  /** The delay before the first restart. @default 1_000 */
  initialMs: number;
  /** The longest delay. @default 60_000 */
  maxMs: number;
  /** A run at least this long starts the delays over. @default 60_000 */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: Backoff = { initialMs: 1_000, maxMs: 60_000, resetAfterMs: 60_000 };

/** The delay before the next start: doubled after each short run, up to the maximum; reset after a long one. */
export function nextDelay(previousMs: number | undefined, ranMs: number, backoff: Backoff = DEFAULT_BACKOFF): number {
  if (previousMs === undefined || ranMs >= backoff.resetAfterMs) return backoff.initialMs;
  return Math.min(previousMs * 2, backoff.maxMs);
}

export interface ExitRecord {
  /** Exit code, or null when a signal ended it. */
  code: number | null;
  signal: NodeJS.Signals | null;
  /** ISO 8601. */
  at: string;
  ranMs: number;
}

/** What the supervisor writes to its state file on every change. */
export interface SupervisorState {
  name: string;
  supervisorPid: number;
  /** `running`: the child is up; `waiting`: it exited and starts again at `nextStartAt`. */
  state: 'running' | 'waiting' | 'stopping' | 'stopped';
  /** The child's pid while it runs, else null. */
  pid: number | null;
  /** The child's script, which names its process (`/proc/<pid>/cmdline`). */
  script: string;
  /** ISO 8601: when the current child started. */
  startedAt: string | null;
  restarts: number;
  lastRestartAt: string | null;
  lastExit: ExitRecord | null;
  nextStartAt: string | null;
}

export function readSupervisorState(file: string): SupervisorState | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as SupervisorState;
  } catch {
    return undefined;
  }
}

/** "exit code 1", "SIGKILL". */
export function describeExit(exit: Pick<ExitRecord, 'code' | 'signal'>): string {
  return exit.signal ? exit.signal : `exit code ${exit.code}`;
}

/**
 * "fetch restarted 3 times, last at ..., last exit SIGKILL after 12.0 s", and when it is down
 * between two runs, when it starts again; nothing for a child that never exited.
 */
export function restartNotice(state: SupervisorState, now = Date.now()): string | undefined {
  if (state.lastExit === null) return undefined;
  const parts = [state.restarts > 0 ? `${state.name} restarted ${state.restarts} time${state.restarts === 1 ? '' : 's'}` : `${state.name} exited`];
  if (state.lastRestartAt) parts.push(`last at ${state.lastRestartAt}`);
  parts.push(`last exit ${describeExit(state.lastExit)} at ${state.lastExit.at} after ${(state.lastExit.ranMs / 1000).toFixed(1)} s`);
  if (state.state === 'waiting' && state.nextStartAt) {
    parts.push(`down now, next start in ${Math.max(0, Math.ceil((Date.parse(state.nextStartAt) - now) / 1000))} s`);
  }
  return parts.join(', ');
}

export interface SupervisorOptions {
  name: string;
  /** A Node script and its arguments, run with this Node. */
  script: string;
  args?: string[];
  env?: NodeJS.ProcessEnv;
  stateFile: string;
  /** How long a stopping child may take before SIGKILL. */
  graceMs: number;
  backoff?: Backoff;
  logger: Logger;
}

/** Keeps one child running until {@link Supervisor.stop}. */
export class Supervisor {
  #child: ChildProcess | undefined;
  #timer: NodeJS.Timeout | undefined;
  #stopping: Promise<void> | undefined;
  #delay: number | undefined;
  #childStarted = 0;
  readonly #state: SupervisorState;

  constructor(private readonly options: SupervisorOptions) {
    this.#state = {
      name: options.name,
      supervisorPid: process.pid,
      state: 'running',
      pid: null,
      script: options.script,
      startedAt: null,
      restarts: 0,
      lastRestartAt: null,
      lastExit: null,
      nextStartAt: null,
    };
  }

  get state(): Readonly<SupervisorState> {
    return this.#state;
  }

  /** A restart is scheduled (the child exited and the backoff delay runs). */
  get restartPending(): boolean {
    return this.#timer !== undefined;
  }

  start(): void {
    this.#spawn(false);
  }

  /** Replaces the state file at once (readers never see half of it); a failure is logged, never fatal. */
  #write(): void {
    const temporary = `${this.options.stateFile}.${process.pid}.tmp`;
    try {
      writeFileSync(temporary, `${JSON.stringify(this.#state, null, 2)}\n`);
      renameSync(temporary, this.options.stateFile);
    } catch (error) {
      this.options.logger.error('could not write the state file', { file: this.options.stateFile, error: errorMessage(error) });
    }
  }

  #spawn(restart: boolean): void {
    this.#timer = undefined;
    const child = spawn(process.execPath, [this.options.script, ...(this.options.args ?? [])], {
      cwd: ROOT,
      env: this.options.env ?? process.env,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    this.#child = child;
    this.#childStarted = Date.now();
    let exited = false;
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      if (exited) return;
      exited = true;
      this.#exited(child, code, signal);
    };
    child.once('exit', onExit);
    child.once('error', (error) => {
      this.options.logger.error('could not start the process', { error: errorMessage(error) });
      // An error without a process (a failed spawn) sends no exit event.
      if (child.pid === undefined) onExit(null, null);
    });
    const startedAt = new Date(this.#childStarted).toISOString();
    Object.assign(this.#state, { state: 'running', pid: child.pid ?? null, startedAt, nextStartAt: null });
    if (restart) Object.assign(this.#state, { restarts: this.#state.restarts + 1, lastRestartAt: startedAt });
    this.#write();
    if (restart) this.options.logger.warn('restarted', { pid: child.pid, restarts: this.#state.restarts, supervisor: process.pid });
  }

  #exited(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.#child === child) this.#child = undefined;
    const ranMs = Date.now() - this.#childStarted;
    this.#state.lastExit = { code, signal, at: new Date().toISOString(), ranMs };
    this.#state.pid = null;
    if (this.#stopping) return;
    this.#delay = nextDelay(this.#delay, ranMs, this.options.backoff);
    Object.assign(this.#state, { state: 'waiting', nextStartAt: new Date(Date.now() + this.#delay).toISOString() });
    this.#write();
    this.options.logger.warn(`exited (${describeExit({ code, signal })}); restarting in ${this.#delay} ms`, {
      exitCode: code,
      signal,
      ranMs,
      delayMs: this.#delay,
      supervisor: process.pid,
    });
    this.#timer = setTimeout(() => this.#spawn(true), this.#delay);
  }

  /** Stops the child (SIGTERM, SIGKILL after the grace) and restarts nothing more. Idempotent. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#state.state = 'stopping';
      this.#write();
      const child = this.#child;
      if (child && child.exitCode === null && child.signalCode === null) {
        const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), this.options.graceMs);
        await gone;
        clearTimeout(killer);
      }
      Object.assign(this.#state, { state: 'stopped', pid: null, nextStartAt: null });
      this.#write();
    })();
    return this.#stopping;
  }
}

/** `<name> <state file> <grace ms> -- <script> [args...]`: supervises until SIGTERM or SIGINT. */
export function superviseMain(argv: string[]): void {
  const [name, stateFile, grace, separator, script, ...args] = argv;
  if (!name || !stateFile || !/^\d+$/.test(grace ?? '') || separator !== '--' || !script) {
    process.stderr.write('usage: supervisor <name> <state file> <grace ms> -- <script> [args...]\n');
    process.exit(2);
  }
  const logger = createLogger({ service: name, level: 'info' }).child({ component: 'supervisor' });
  const supervisor = new Supervisor({ name, script, args, stateFile, graceMs: Number(grace), logger });
  const stop = (signal: string) => {
    logger.info('stopping', { signal, pid: supervisor.state.pid, supervisor: process.pid });
    supervisor.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error('stopping failed', { error: errorMessage(error) });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  supervisor.start();
}

if (require.main === module) superviseMain(process.argv.slice(2));
