/**
 * The processes `docintel up` leaves running, each under its own supervisor (supervisor.ts):
 * `<home>/pids/<name>.pid` holds the supervisor's pid, `<home>/pids/<name>.state.json` the state it
 * writes (its child's pid, restarts, last exit). `down` signals the supervisor, which stops its
 * child; a child whose supervisor is gone is found through the state file and signalled itself.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { CliContext } from './context';
import { homeDir, ROOT } from './paths';
import { isRunningScript } from './processes';
import { describeExit, readSupervisorState, restartNotice, type SupervisorState } from './supervisor';

/** The built supervisor, which `up` starts detached. */
export const SUPERVISOR_ENTRY = path.join(ROOT, 'libs', 'cli', 'dist', 'supervisor.js');

export function pidFile(env: NodeJS.ProcessEnv, name: string): string {
  return path.join(homeDir(env), 'pids', `${name}.pid`);
}

export function stateFile(env: NodeJS.ProcessEnv, name: string): string {
  return path.join(homeDir(env), 'pids', `${name}.state.json`);
}

/** A service's shutdown grace: a stopping supervisor kills its child after this plus 5 s, `down` after this plus 10 s. */
function graceMs(env: NodeJS.ProcessEnv): number {
  const grace = Number(env.SHUTDOWN_GRACE_MS ?? 25_000);
  return Number.isFinite(grace) && grace > 0 ? grace : 25_000;
}

export interface Supervised {
  /** The supervisor's pid, while it runs. */
  supervisor?: number;
  /** The child's pid, while it runs (also without its supervisor). */
  child?: number;
  state?: SupervisorState;
  /** Whether a pid file says the process was started. */
  started: boolean;
}

function readPid(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8'));
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/** What runs of `name`, whose child runs `script`; a pid is taken only if its process runs that script. */
export function lookupSupervised(env: NodeJS.ProcessEnv, name: string, script: string): Supervised {
  const recorded = readPid(pidFile(env, name));
  const state = readSupervisorState(stateFile(env, name));
  const supervisor = recorded !== undefined && isRunningScript(recorded, SUPERVISOR_ENTRY) ? recorded : undefined;
  let child = state?.pid != null && isRunningScript(state.pid, script) ? state.pid : undefined;
  // A pid file of a stack started before supervision names the service itself.
  if (child === undefined && supervisor === undefined && recorded !== undefined && isRunningScript(recorded, script)) child = recorded;
  return { supervisor, child, state, started: recorded !== undefined || state !== undefined };
}

function signal(pid: number | undefined, sig: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * Stops `name`: SIGTERM to its supervisor, which stops its child gracefully, or to the child when
 * its supervisor is gone; SIGKILL to whatever is left after the grace. Resolves with whether
 * anything ran.
 */
export async function stopSupervised(env: NodeJS.ProcessEnv, name: string, script: string): Promise<boolean> {
  const { supervisor, child } = lookupSupervised(env, name, script);
  rmSync(pidFile(env, name), { force: true });
  if (supervisor === undefined && child === undefined) {
    rmSync(stateFile(env, name), { force: true });
    return false;
  }
  signal(supervisor ?? child, 'SIGTERM');
  const running = () => [supervisor, child].filter((pid) => pid !== undefined && isRunningScript(pid, pid === supervisor ? SUPERVISOR_ENTRY : script));
  const deadline = Date.now() + graceMs(env) + 10_000;
  while (running().length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
  for (const pid of running()) signal(pid, 'SIGKILL');
  // A supervisor killed at once (SIGKILL) leaves its child running: stop that one too.
  if (supervisor !== undefined && child !== undefined && isRunningScript(child, script)) {
    signal(child, 'SIGTERM');
    const childDeadline = Date.now() + graceMs(env) + 5_000;
    while (isRunningScript(child, script) && Date.now() < childDeadline) await new Promise((resolve) => setTimeout(resolve, 100));
    signal(child, 'SIGKILL');
  }
  rmSync(stateFile(env, name), { force: true });
  return true;
}

export interface StartOptions {
  name: string;
  /** The child's Node script and its arguments. */
  script: string;
  args?: string[];
  env: NodeJS.ProcessEnv;
  logFile: string;
  /** Whether the child answers (its health endpoint). */
  ready: () => Promise<boolean>;
  /** @default 60_000 */
  timeoutMs?: number;
}

/**
 * Starts `name` under a detached supervisor, which outlives the CLI, and resolves once the child
 * answers; if the child exits first or never answers, stops the supervisor and throws.
 */
export async function startSupervised(ctx: CliContext, options: StartOptions): Promise<{ supervisor: number; pid: number }> {
  const states = stateFile(ctx.env, options.name);
  mkdirSync(path.dirname(states), { recursive: true });
  mkdirSync(path.dirname(options.logFile), { recursive: true });
  rmSync(states, { force: true });
  const fd = openSync(options.logFile, 'a');
  const args = [SUPERVISOR_ENTRY, options.name, states, String(graceMs(options.env) + 5_000), '--', options.script, ...(options.args ?? [])];
  const supervisor = spawn(process.execPath, args, { cwd: ROOT, env: options.env, stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  supervisor.unref();
  writeFileSync(pidFile(ctx.env, options.name), `${supervisor.pid}\n`);
  const fail = async (reason: string): Promise<never> => {
    await stopSupervised(ctx.env, options.name, options.script);
    throw new Error(`${options.name} ${reason}; see ${options.logFile}`);
  };
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (;;) {
    const state = readSupervisorState(states);
    if (state?.lastExit) return fail(`exited (${describeExit(state.lastExit)}) before it answered`);
    if (supervisor.exitCode !== null || !isRunningScript(supervisor.pid!, SUPERVISOR_ENTRY)) return fail('could not be supervised: its supervisor exited');
    if (state?.pid != null && isRunningScript(state.pid, options.script) && (await options.ready())) return { supervisor: supervisor.pid!, pid: state.pid };
    if (Date.now() > deadline) return fail(`did not answer within ${options.timeoutMs ?? 60_000} ms`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * What an operator should know about the processes `up` started: restarts (with the last exit),
 * a child down between two runs, a child without its supervisor, or neither running. Empty when
 * all is well, or when no stack was started here.
 */
export function supervisionNotices(env: NodeJS.ProcessEnv, processes: Array<{ name: string; script: string }>): string[] {
  const notices: string[] = [];
  for (const { name, script } of processes) {
    const found = lookupSupervised(env, name, script);
    if (!found.started) continue;
    if (found.supervisor !== undefined) {
      const notice = found.state && restartNotice(found.state);
      if (notice) notices.push(notice);
    } else if (found.child !== undefined) {
      notices.push(`${name} runs without its supervisor (pid ${found.child}): nothing restarts it if it exits; \`docintel up\` supervises it again`);
    } else {
      notices.push(`${name} is not running, nor its supervisor: \`docintel up\` starts it`);
    }
  }
  return notices;
}
