import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository root (libs/testing/test/deploy-kafka -> ../../../..). */
export const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
export const DEPLOY_KAFKA = path.join(ROOT, 'deploy', 'kafka');

/** Whether nothing listens on 127.0.0.1:port (by listening on it for a moment). */
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A base port with `count` free ports from it on, so a second broker never meets the first. */
export async function freePorts(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * 20_000);
    const free = await Promise.all(Array.from({ length: count }, (_, i) => isFree(base + i)));
    if (free.every(Boolean)) return base;
  }
  throw new Error(`found no ${count} consecutive free ports`);
}

export interface LocalBroker {
  /** The PLAINTEXT port (KAFKA_PORT); the controller is on port+1. */
  port: number;
  saslPort: number;
  sslPort: number;
  dataDir: string;
  /** What start.sh printed. */
  output: string;
  /** deploy/kafka/stop.sh --purge on this broker's data dir. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts a broker of its own with deploy/kafka/start.sh, as a user would, on free ports and in
 * `dataDir`; `env` adds KAFKA_SASL, KAFKA_SSL, the user and so on.
 */
export async function startLocalBroker(dataDir: string, env: NodeJS.ProcessEnv): Promise<LocalBroker> {
  const port = await freePorts(4);
  const brokerEnv = { ...process.env, ...env, KAFKA_PORT: String(port), KAFKA_DATA_DIR: dataDir };
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await run('bash', [path.join(DEPLOY_KAFKA, 'stop.sh'), '--purge'], { env: brokerEnv });
      await rm(dataDir, { recursive: true, force: true });
    })();
    return stopping;
  };
  try {
    const { stdout } = await run('bash', [path.join(DEPLOY_KAFKA, 'start.sh')], { env: brokerEnv, timeout: 150_000 });
    return { port, saslPort: port + 2, sslPort: port + 3, dataDir, output: stdout, stop };
  } catch (error) {
    // a broker that started but failed later (say, at creating the user) must not outlive the test
    await stop().catch(() => undefined);
    throw error;
  }
}
