import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureDatabase, migrate, redactUrl } from '@docintel/db';
import { ensureTopics } from '@docintel/kafka';
import { DEFAULT_PORTS } from '@docintel/service';
import type { CliContext } from '../context';
import { homeDir, ROOT } from '../paths';
import { SERVICE_NAMES, spawnService } from '../processes';

export async function migrateCommand(ctx: CliContext): Promise<void> {
  const { created } = await ensureDatabase(ctx.databaseUrl);
  if (created) ctx.out(`created database ${redactUrl(ctx.databaseUrl)}`);
  const { applied } = await migrate(ctx.pool);
  ctx.out(applied.length > 0 ? `applied migrations: ${applied.join(', ')}` : 'schema is up to date');
}

export interface TopicsCreateOptions {
  partitions: number;
  retryTiers: number;
  /** Replicas of each new topic; unset: the broker's `default.replication.factor`. */
  replicationFactor?: number;
}

export async function topicsCreateCommand(ctx: CliContext, options: TopicsCreateOptions): Promise<void> {
  const admin = ctx.kafka.admin();
  await admin.connect();
  try {
    const result = await ensureTopics(admin, {
      prefix: ctx.kafkaConfig.topicPrefix,
      partitions: options.partitions,
      retryTiers: options.retryTiers,
      replicationFactor: options.replicationFactor,
    });
    ctx.out(`topics: ${result.created.length} created, ${result.existing.length} already there${result.grown.length ? `, ${result.grown.length} grown to ${options.partitions} partitions` : ''}`);
  } finally {
    await admin.disconnect();
  }
}

/** Starts the local broker unless KAFKA_BROKERS points elsewhere. */
export function startLocalKafka(ctx: CliContext): void {
  if (ctx.env.KAFKA_BROKERS) {
    ctx.out(`kafka: using ${ctx.env.KAFKA_BROKERS}`);
    return;
  }
  execFileSync('bash', [path.join(ROOT, 'deploy', 'kafka', 'start.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
}

function pidFile(ctx: CliContext, name: string): string {
  return path.join(homeDir(ctx.env), 'pids', `${name}.pid`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function runningPid(ctx: CliContext, name: string): number | undefined {
  const file = pidFile(ctx, name);
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8'));
  return Number.isInteger(pid) && alive(pid) ? pid : undefined;
}

export type Providers = 'embedded' | 'emulated';

/** Where `up --providers emulated` puts the Gemini and Pinecone emulators (API port, control port). */
export const EMULATOR_PORTS = { gemini: [9201, 9211], pinecone: [9202, 9212] } as const;
const EMULATOR_KEY = 'local-emulator-key';

/** The environment that points the services at the emulated production providers. */
export function emulatedProviderEnv(): Record<string, string> {
  return {
    EMBEDDING_PROVIDER: 'gemini',
    GEMINI_API_KEY: EMULATOR_KEY,
    GEMINI_BASE_URL: `http://127.0.0.1:${EMULATOR_PORTS.gemini[0]}`,
    VECTOR_STORE: 'pinecone',
    PINECONE_API_KEY: EMULATOR_KEY,
    PINECONE_INDEX_HOST: `http://127.0.0.1:${EMULATOR_PORTS.pinecone[0]}`,
  };
}

/** The file where `up` records the provider settings, so later commands (search) use the same. */
export function stackEnvFile(env: NodeJS.ProcessEnv): string {
  return path.join(homeDir(env), 'stack.env.json');
}

async function startEmulator(ctx: CliContext, kind: 'gemini' | 'pinecone'): Promise<void> {
  if (runningPid(ctx, `${kind}-emulator`) !== undefined) return;
  const [port, adminPort] = EMULATOR_PORTS[kind];
  const logFile = path.join(homeDir(ctx.env), 'logs', `${kind}-emulator.log`);
  mkdirSync(path.dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'a');
  const args = [path.join(ROOT, 'libs', 'emulators', 'dist', 'main.js'), kind, '--port', String(port), '--admin-port', String(adminPort), '--api-key', EMULATOR_KEY];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', fd, fd], detached: true });
  closeSync(fd);
  child.unref();
  writeFileSync(pidFile(ctx, `${kind}-emulator`), String(child.pid));
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${adminPort}/__health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the ${kind} emulator did not start; see ${logFile}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  ctx.out(`${kind} emulator: started (pid ${child.pid}, http://127.0.0.1:${port}, control http://127.0.0.1:${adminPort}/__stats)`);
}

/**
 * Broker, schema, topics and the four services, in the background; logs under `.data/logs`.
 * `providers: 'emulated'` also starts the Gemini and Pinecone emulators and runs the services on
 * the production adapters against them.
 */
export async function upCommand(ctx: CliContext, options: { partitions: number; replicationFactor?: number; providers?: Providers }): Promise<void> {
  startLocalKafka(ctx);
  await migrateCommand(ctx);
  await topicsCreateCommand(ctx, { partitions: options.partitions, retryTiers: 3, replicationFactor: options.replicationFactor });
  const home = homeDir(ctx.env);
  mkdirSync(path.join(home, 'pids'), { recursive: true });
  let providerEnv: Record<string, string> = {};
  if (options.providers === 'emulated') {
    await startEmulator(ctx, 'gemini');
    await startEmulator(ctx, 'pinecone');
    providerEnv = emulatedProviderEnv();
  }
  writeFileSync(stackEnvFile(ctx.env), `${JSON.stringify(providerEnv, null, 2)}\n`);
  for (const name of SERVICE_NAMES) {
    const existing = runningPid(ctx, name);
    if (existing !== undefined) {
      ctx.out(`${name}: already running (pid ${existing})`);
      continue;
    }
    const logFile = path.join(home, 'logs', `${name}.log`);
    const service = await spawnService(name, {
      env: { ...ctx.env, ...providerEnv, HTTP_PORT: ctx.env[`${name.toUpperCase()}_HTTP_PORT`] ?? String(DEFAULT_PORTS[name]), LANCEDB_DIR: ctx.env.LANCEDB_DIR ?? path.join(home, 'lancedb') },
      logFile,
      detached: true,
    });
    writeFileSync(pidFile(ctx, name), String(service.pid));
    ctx.out(`${name}: started (pid ${service.pid}, http://127.0.0.1:${service.httpPort}/metrics, log ${path.relative(process.cwd(), logFile)})`);
  }
}

/** Stops the services (SIGTERM: they finish and commit their work); `--kafka` stops the broker too. */
export async function downCommand(ctx: CliContext, options: { kafka: boolean }): Promise<void> {
  const stopping: Array<Promise<void>> = [];
  for (const name of [...SERVICE_NAMES, 'gemini-emulator', 'pinecone-emulator']) {
    const pid = runningPid(ctx, name);
    rmSync(pidFile(ctx, name), { force: true });
    if (pid === undefined) continue;
    process.kill(pid, 'SIGTERM');
    stopping.push(
      (async () => {
        const deadline = Date.now() + 35_000;
        while (alive(pid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
        if (alive(pid)) process.kill(pid, 'SIGKILL');
        ctx.out(`${name}: stopped`);
      })(),
    );
  }
  await Promise.all(stopping);
  rmSync(stackEnvFile(ctx.env), { force: true });
  if (options.kafka && !ctx.env.KAFKA_BROKERS) execFileSync('bash', [path.join(ROOT, 'deploy', 'kafka', 'stop.sh')], { stdio: 'inherit' });
}
