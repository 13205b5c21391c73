import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import {
  CliContext,
  SERVICE_NAMES,
  downCommand,
  isRunning,
  pidFile,
  readSupervisorState,
  stateFile,
  statusCommand,
  upCommand,
} from '@docintel/cli';
import { createTestDatabase, createTestTopics, eventually, freePort, uniqueSuffix, type TestDatabase, type TestTopics } from '@docintel/testing';

async function healthy(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/healthz`)).ok;
  } catch {
    return false;
  }
}

/**
 * `docintel up` as an operator runs it: the services start under their supervisors, which outlive
 * the command; a service that dies is restarted, `status` says so, and `down` leaves no process.
 */
describe('docintel up supervises the services', () => {
  let topics: TestTopics;
  let database: TestDatabase;
  let home: string;
  let env: NodeJS.ProcessEnv;
  const ports: Record<string, number> = {};
  const lines: string[] = [];
  /** Every pid the stack had, supervisors and services, so that none may be left. */
  const seen = new Set<number>();

  const context = () => new CliContext(env, (line) => lines.push(line));
  const stateOf = (name: string) => readSupervisorState(stateFile(env, name));
  const supervisorOf = async (name: string) => Number(await readFile(pidFile(env, name), 'utf8'));
  const remember = async () => {
    for (const name of SERVICE_NAMES) {
      seen.add(await supervisorOf(name));
      const pid = stateOf(name)?.pid;
      if (pid) seen.add(pid);
    }
  };
  /** The JSON lines of a service's log (its own and its supervisor's). */
  const logOf = async (name: string) =>
    (await readFile(path.join(home, 'logs', `${name}.log`), 'utf8'))
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  /**
   * Whether the service's latest run has logged `started`: only then does it handle SIGTERM
   * (a service stopped before that simply exits, having taken no message yet).
   */
  const started = async (name: string) => {
    const messages = (await logOf(name)).filter((entry) => entry.component === undefined).map((entry) => entry.message);
    return messages.lastIndexOf('started') > messages.lastIndexOf('starting');
  };
  const run = async <T>(command: (ctx: CliContext) => Promise<T>): Promise<T> => {
    const ctx = context();
    try {
      return await command(ctx);
    } finally {
      await ctx.close();
    }
  };

  beforeAll(async () => {
    [topics, database, home] = await Promise.all([createTestTopics({ partitions: 2 }), createTestDatabase(), mkdtemp(path.join(os.tmpdir(), 'docintel-up-'))]);
    for (const name of SERVICE_NAMES) ports[name] = await freePort();
    env = {
      ...process.env,
      KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? `127.0.0.1:${process.env.KAFKA_PORT ?? 9092}`,
      TOPIC_PREFIX: topics.prefix,
      DATABASE_URL: database.url,
      DOCINTEL_HOME: home,
      LOG_LEVEL: 'info',
      ...Object.fromEntries(SERVICE_NAMES.map((name) => [`${name.toUpperCase()}_HTTP_PORT`, String(ports[name])])),
    };
  });

  afterAll(async () => {
    // Whatever a failed test left: down, then SIGKILL to any pid still there.
    if (env) await run((ctx) => downCommand(ctx, { kafka: false })).catch(() => undefined);
    for (const pid of seen) if (isRunning(pid)) process.kill(pid, 'SIGKILL');
    await Promise.allSettled([database?.drop(), topics?.cleanup()]);
    if (home && process.env.KEEP_TEST_DIR === undefined) await rm(home, { recursive: true, force: true });
  });

  beforeEach(() => lines.splice(0));

  it('starts each service under a supervisor that outlives the command', async () => {
    await run((ctx) => upCommand(ctx, { partitions: 2 }));
    await remember();
    for (const name of SERVICE_NAMES) {
      const state = stateOf(name)!;
      expect(state).toMatchObject({ name, state: 'running', restarts: 0, supervisorPid: await supervisorOf(name) });
      expect(isRunning(state.supervisorPid) && isRunning(state.pid!)).toBe(true);
      expect(await healthy(ports[name]!)).toBe(true);
      expect(lines.join('\n')).toContain(`${name}: started (pid ${state.pid}, supervisor ${state.supervisorPid}`);
    }
  });

  it('restarts a service that is killed: a new pid, healthy again; status and up say so', async () => {
    const before = stateOf('fetch')!;
    process.kill(before.pid!, 'SIGKILL');
    const after = await eventually(
      async () => {
        const state = stateOf('fetch');
        return state?.pid && state.pid !== before.pid && isRunning(state.pid) && (await healthy(ports.fetch!)) ? state : undefined;
      },
      { timeoutMs: 60_000, description: 'fetch restarted and healthy' },
    );
    seen.add(after.pid!);
    expect(after).toMatchObject({ restarts: 1, supervisorPid: before.supervisorPid, lastExit: { code: null, signal: 'SIGKILL' } });
    expect(isRunning(before.pid!)).toBe(false);

    await run((ctx) => statusCommand(ctx, { tenant: `none-${uniqueSuffix()}` }));
    const status = lines.join('\n');
    expect(status).toMatch(new RegExp(`fetch restarted 1 time, last at ${after.lastRestartAt!.replace(/\./g, '\\.')}, last exit SIGKILL`));
    // The services that did not exit are not mentioned.
    for (const name of SERVICE_NAMES.filter((n) => n !== 'fetch')) expect(status).not.toContain(`${name} restarted`);

    lines.splice(0);
    await run((ctx) => upCommand(ctx, { partitions: 2 }));
    expect(lines.join('\n')).toContain(`fetch: already running (pid ${after.pid}, supervisor ${before.supervisorPid}); fetch restarted 1 time`);
    expect(lines.join('\n')).toContain('embed: already running');

    // The service's log has the exit and the restart.
    const log = await logOf('fetch');
    expect(log).toContainEqual(expect.objectContaining({ component: 'supervisor', message: 'exited (SIGKILL); restarting in 1000 ms', signal: 'SIGKILL', delayMs: 1000 }));
    expect(log).toContainEqual(expect.objectContaining({ component: 'supervisor', message: 'restarted', pid: after.pid, restarts: 1 }));
  });

  it('finds a service whose supervisor was killed: status says so, down stops it', async () => {
    const embed = stateOf('embed')!;
    process.kill(embed.supervisorPid, 'SIGKILL');
    await eventually(() => !isRunning(embed.supervisorPid), { description: 'the supervisor gone' });
    expect(isRunning(embed.pid!)).toBe(true);
    await run((ctx) => statusCommand(ctx, {}));
    expect(lines.join('\n')).toContain(`embed runs without its supervisor (pid ${embed.pid})`);
  });

  it('down stops every supervisor and service (gracefully) and leaves no process', async () => {
    await remember();
    // The restarted fetch joins its group only once the session of the member that was killed has
    // expired (30 s): until then it has not started, and a SIGTERM would end it without a shutdown.
    await eventually(async () => (await Promise.all(SERVICE_NAMES.map(started))).every(Boolean), { timeoutMs: 90_000, description: 'every service started' });
    await run((ctx) => downCommand(ctx, { kafka: false }));
    for (const name of SERVICE_NAMES) expect(lines).toContain(`${name}: stopped`);
    for (const pid of seen) expect({ pid, running: isRunning(pid) }).toEqual({ pid, running: false });
    // Stopped by SIGTERM through the supervisor: the service shut down its own way (finished, committed).
    const log = await logOf('fetch');
    expect(log).toContainEqual(expect.objectContaining({ component: 'supervisor', message: 'stopping', signal: 'SIGTERM' }));
    expect(log.at(-1)).toMatchObject({ message: 'stopped', exitCode: 0 });
    // The service whose supervisor was killed got the SIGTERM itself.
    expect((await logOf('embed')).at(-1)).toMatchObject({ message: 'stopped', exitCode: 0 });
    // Nothing of the stack is left to find.
    lines.splice(0);
    await run((ctx) => statusCommand(ctx, {}));
    expect(lines.join('\n')).not.toMatch(/restarted|supervisor|not running/);
  });

});
