import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { eventually, testLogger } from '@docintel/testing';
import { isRunning } from '../src/processes';
import { DEFAULT_BACKOFF, Supervisor, nextDelay, readSupervisorState, restartNotice, type SupervisorState } from '../src/supervisor';

describe('nextDelay', () => {
  it('starts at 1 s, doubles after each short run up to 60 s, and starts over after a long run', () => {
    const delays: number[] = [];
    let delay: number | undefined;
    for (let i = 0; i < 9; i += 1) delays.push((delay = nextDelay(delay, 500)));
    expect(delays).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
    expect(nextDelay(60_000, DEFAULT_BACKOFF.resetAfterMs)).toBe(1_000);
    expect(nextDelay(8_000, DEFAULT_BACKOFF.resetAfterMs - 1)).toBe(16_000);
  });
});

describe('restartNotice', () => {
  const base: SupervisorState = {
    name: 'fetch',
    supervisorPid: 1,
    state: 'running',
    pid: 2,
    script: 'x.js',
    startedAt: '2025-01-01T00:00:05.000Z',
    restarts: 0,
    lastRestartAt: null,
    lastExit: null,
    nextStartAt: null,
  };

  it('says nothing of a process that never exited', () => {
    expect(restartNotice(base)).toBeUndefined();
  });

  it('counts the restarts and names the last exit, code or signal', () => {
    const exit = { code: null, signal: 'SIGKILL' as const, at: '2025-01-01T00:00:04.000Z', ranMs: 12_000 };
    expect(restartNotice({ ...base, restarts: 3, lastRestartAt: '2025-01-01T00:00:05.000Z', lastExit: exit })).toBe(
      'fetch restarted 3 times, last at 2025-01-01T00:00:05.000Z, last exit SIGKILL at 2025-01-01T00:00:04.000Z after 12.0 s',
    );
    expect(restartNotice({ ...base, restarts: 1, lastRestartAt: 'then', lastExit: { ...exit, code: 1, signal: null } })).toContain('fetch restarted 1 time, last at then, last exit exit code 1');
  });

  it('says when a process that is down between two runs starts again', () => {
    const now = Date.parse('2025-01-01T00:00:00.000Z');
    const waiting = { ...base, state: 'waiting' as const, pid: null, lastExit: { code: 1, signal: null, at: 'x', ranMs: 100 }, nextStartAt: '2025-01-01T00:00:08.000Z' };
    expect(restartNotice(waiting, now)).toBe('fetch exited, last exit exit code 1 at x after 0.1 s, down now, next start in 8 s');
  });
});

describe('Supervisor', () => {
  let dir: string;
  let supervisors: Supervisor[];
  const script = (name: string, body: string) => {
    const file = path.join(dir, name);
    writeFileSync(file, body);
    return file;
  };
  const supervise = (file: string, options: { graceMs?: number } = {}) => {
    const supervisor = new Supervisor({
      name: 'child',
      script: file,
      stateFile: path.join(dir, 'child.state.json'),
      graceMs: options.graceMs ?? 5_000,
      backoff: { initialMs: 50, maxMs: 200, resetAfterMs: 10_000 },
      logger: testLogger('supervisor'),
    });
    supervisors.push(supervisor);
    supervisor.start();
    return supervisor;
  };
  const state = () => readSupervisorState(path.join(dir, 'child.state.json'));
  /** A child that handles SIGTERM with `onTerm` and, once it does, writes `<pid>.ready`. */
  const readyScript = (name: string, onTerm: string) =>
    script(name, `process.on('SIGTERM', () => { ${onTerm} }); require('node:fs').writeFileSync(require('node:path').join(${JSON.stringify(dir)}, process.pid + '.ready'), ''); setInterval(() => undefined, 1000);`);
  const ready = (pid: number) => eventually(() => existsSync(path.join(dir, `${pid}.ready`)), { description: `child ${pid} ready` });

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'docintel-supervisor-'));
    supervisors = [];
  });

  afterEach(async () => {
    await Promise.all(supervisors.map((supervisor) => supervisor.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('restarts a child that exits, with growing delays, and records each exit', async () => {
    const started = Date.now();
    supervise(script('exits.js', 'setTimeout(() => process.exit(3), 10);'));
    const after = await eventually(() => (state()!.restarts >= 3 ? state() : undefined), { timeoutMs: 10_000 });
    expect(after.lastExit).toMatchObject({ code: 3, signal: null });
    // Waits of 50, 100 and 200 ms came before the third restart.
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(after.lastRestartAt).not.toBeNull();
  });

  it('restarts a child killed by a signal, as a new process, and stops it gracefully', async () => {
    const supervisor = supervise(readyScript('runs.js', 'process.exit(0);'));
    const first = await eventually(() => state()?.pid);
    await ready(first);
    process.kill(first, 'SIGKILL');
    const second = await eventually(() => (state()!.pid !== null && state()!.pid !== first ? state()!.pid : undefined));
    expect(state()).toMatchObject({ state: 'running', restarts: 1, lastExit: { code: null, signal: 'SIGKILL' } });
    await ready(second);
    await supervisor.stop();
    expect(isRunning(second)).toBe(false);
    expect(state()).toMatchObject({ state: 'stopped', pid: null, restarts: 1, lastExit: { code: 0, signal: null } });
  });

  it('starts nothing more once stopped while waiting to restart', async () => {
    const supervisor = new Supervisor({
      name: 'child',
      script: script('fails.js', 'process.exit(1);'),
      stateFile: path.join(dir, 'child.state.json'),
      graceMs: 1_000,
      backoff: { initialMs: 300, maxMs: 300, resetAfterMs: 10_000 },
      logger: testLogger('supervisor'),
    });
    supervisor.start();
    await eventually(() => state()?.state === 'waiting');
    expect(supervisor.restartPending).toBe(true);
    await supervisor.stop();
    // the scheduled restart is cancelled, not merely outwaited
    expect(supervisor.restartPending).toBe(false);
    expect(state()).toMatchObject({ state: 'stopped', restarts: 0, pid: null });
  });

  it('kills a child that ignores SIGTERM after the grace', async () => {
    const supervisor = supervise(readyScript('stubborn.js', ''), { graceMs: 300 });
    const pid = await eventually(() => state()?.pid);
    await ready(pid);
    await supervisor.stop();
    expect(isRunning(pid)).toBe(false);
    expect(state()!.lastExit).toMatchObject({ signal: 'SIGKILL' });
  });
});
