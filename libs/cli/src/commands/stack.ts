import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureDatabase, migrate, redactUrl } from '@docintel/db';
import { ensureTopics } from '@docintel/kafka';
import { DEFAULT_PORTS } from '@docintel/service';
import type { CliContext } from '../context';
import { homeDir, ROOT } from '../paths';
import { SERVICE_NAMES, serviceEntry } from '../processes';
import { lookupSupervised, startSupervised, stopSupervised, supervisionNotices } from '../supervision';
import { restartNotice } from '../supervisor';

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

const EMULATOR_ENTRY = path.join(ROOT, 'libs', 'emulators', 'dist', 'main.js');

/** Every process `up` starts (each under its supervisor), by the name of its pid file, with its script. */
function stackProcesses(): Array<{ name: string; script: string }> {
  return [
    ...SERVICE_NAMES.map((name) => ({ name, script: serviceEntry(name) })),
    { name: 'gemini-emulator', script: EMULATOR_ENTRY },
    { name: 'pinecone-emulator', script: EMULATOR_ENTRY },
  ];
}

/** Restarts, and processes without a supervisor, of the stack `up` started (see `supervisionNotices`). */
export function stackNotices(ctx: CliContext): string[] {
  return supervisionNotices(ctx.env, stackProcesses());
}

/** Whether something answers 200 on a local URL. */
async function answers(url: string): Promise<boolean> {
  try {
    return (await fetch(url)).ok;
  } catch {
    return false;
  }
}

/**
 * Whether `name` is already up under its supervisor (then says so, with its restarts). A process
 * left without its supervisor (the supervisor was killed) is stopped, so that it starts again
 * supervised.
 */
async function alreadyRunning(ctx: CliContext, name: string, script: string): Promise<boolean> {
  const found = lookupSupervised(ctx.env, name, script);
  if (found.supervisor !== undefined) {
    const notice = found.state && restartNotice(found.state);
    ctx.out(`${name}: already running (pid ${found.child ?? 'none right now'}, supervisor ${found.supervisor})${notice ? `; ${notice}` : ''}`);
    return true;
  }
  if (found.child !== undefined) {
    ctx.out(`${name}: running without its supervisor (pid ${found.child}); stopping it to start it supervised`);
    await stopSupervised(ctx.env, name, script);
  }
  return false;
}

async function startEmulator(ctx: CliContext, kind: 'gemini' | 'pinecone'): Promise<void> {
  const name = `${kind}-emulator`;
  if (await alreadyRunning(ctx, name, EMULATOR_ENTRY)) return;
  const [port, adminPort] = EMULATOR_PORTS[kind];
  const started = await startSupervised(ctx, {
    name,
    script: EMULATOR_ENTRY,
    args: [kind, '--port', String(port), '--admin-port', String(adminPort), '--api-key', EMULATOR_KEY],
    env: ctx.env,
    logFile: path.join(homeDir(ctx.env), 'logs', `${name}.log`),
    ready: () => answers(`http://127.0.0.1:${adminPort}/__health`),
    timeoutMs: 30_000,
  });
  ctx.out(`${kind} emulator: started (pid ${started.pid}, supervisor ${started.supervisor}, http://127.0.0.1:${port}, control http://127.0.0.1:${adminPort}/__stats)`);
}

/**
 * Broker, schema, topics and the four services, in the background, each under a supervisor that
 * restarts it when it exits; logs under `.data/logs`.
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
    if (await alreadyRunning(ctx, name, serviceEntry(name))) continue;
    const logFile = path.join(home, 'logs', `${name}.log`);
    const port = ctx.env[`${name.toUpperCase()}_HTTP_PORT`] ?? String(DEFAULT_PORTS[name]);
    const started = await startSupervised(ctx, {
      name,
      script: serviceEntry(name),
      env: { ...ctx.env, ...providerEnv, HTTP_PORT: port, LANCEDB_DIR: ctx.env.LANCEDB_DIR ?? path.join(home, 'lancedb') },
      logFile,
      ready: () => answers(`http://127.0.0.1:${port}/healthz`),
    });
    ctx.out(`${name}: started (pid ${started.pid}, supervisor ${started.supervisor}, http://127.0.0.1:${port}/metrics, log ${path.relative(process.cwd(), logFile)})`);
  }
}

/**
 * Stops the services: SIGTERM to each supervisor, which restarts nothing more and stops its service
 * (SIGTERM: it finishes and commits its work); a service whose supervisor is gone gets the SIGTERM
 * itself. `--kafka` stops the broker too.
 */
export async function downCommand(ctx: CliContext, options: { kafka: boolean }): Promise<void> {
  await Promise.all(
    stackProcesses().map(async ({ name, script }) => {
      if (await stopSupervised(ctx.env, name, script)) ctx.out(`${name}: stopped`);
    }),
  );
  rmSync(stackEnvFile(ctx.env), { force: true });
  if (options.kafka && !ctx.env.KAFKA_BROKERS) execFileSync('bash', [path.join(ROOT, 'deploy', 'kafka', 'stop.sh')], { stdio: 'inherit' });
}
