import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CliContext, SERVICE_NAMES, ingestCommand, spawnService, watchProgress, type IngestedDocument, type ServiceProcess } from '@docintel/cli';
import { createKafka, ensureTopics, loadKafkaConfig, toKafkaJsConfig } from '@docintel/kafka';
import { Kafka, logLevel } from 'kafkajs';
import { createTestDatabase, eventually, isReady, testLogger, uniqueSuffix, type TestDatabase } from '@docintel/testing';
import { DEPLOY_KAFKA, startLocalBroker, type LocalBroker } from './broker';

const run = promisify(execFile);

/** Whatever the caller's shell says about Kafka must not leak into this test's own cluster. */
function withoutKafkaVariables(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([name]) => !name.startsWith('KAFKA_')));
}

/** Every string an error carries: its message and stack, and those of its causes. */
function errorText(error: unknown, depth = 0): string {
  if (!(error instanceof Error) || depth > 5) return String(error);
  return [error.message, error.stack ?? '', JSON.stringify(error), errorText((error as { cause?: unknown }).cause, depth + 1)].join('\n');
}

/**
 * deploy/kafka/start.sh with KAFKA_SASL=1 and KAFKA_SSL=1: a second local broker (own ports, own
 * storage) whose SCRAM-SHA-512 listener carries the real pipeline (four service processes, the
 * CLI's ingest), and whose secrets show up nowhere: not in logs, metrics or error messages.
 */
describe('a local broker with SASL/SCRAM (deploy/kafka/start.sh, KAFKA_SASL=1)', () => {
  const suffix = uniqueSuffix();
  const username = `docintel-${suffix.slice(-4)}`;
  // Unique, so that finding it anywhere can only mean a leak.
  const password = `pw-${suffix}-Secr3t`;
  const wrong = `wrong-${suffix}-pw`;
  const tenants = [`sa${suffix.slice(-6)}`, `sb${suffix.slice(-6)}`];
  let dir: string;
  let broker: LocalBroker;
  let database: TestDatabase;
  let env: NodeJS.ProcessEnv;
  let ctx: CliContext;
  let services: ServiceProcess[] = [];
  const logFile = (name: string) => path.join(dir, 'logs', `${name}.log`);

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'docintel-sasl-'));
    [broker, database] = await Promise.all([
      startLocalBroker(path.join(dir, 'kafka'), { KAFKA_SASL: '1', KAFKA_SSL: '1', KAFKA_SASL_USERNAME: username, KAFKA_SASL_PASSWORD: password }),
      createTestDatabase(),
    ]);
    env = {
      ...withoutKafkaVariables(process.env),
      KAFKA_BROKERS: `127.0.0.1:${broker.saslPort}`,
      KAFKA_SASL_MECHANISM: 'scram-sha-512',
      KAFKA_SASL_USERNAME: username,
      KAFKA_SASL_PASSWORD: password,
      TOPIC_PREFIX: `t-${suffix}.`,
      DATABASE_URL: database.url,
      LANCEDB_DIR: path.join(dir, 'lancedb'),
      HTTP_PORT: '0',
      LOG_LEVEL: 'debug',
      RETRY_DELAYS_MS: '500,1000',
    };
    const kafka = createKafka(loadKafkaConfig(env, 'test'), testLogger('kafka'));
    const admin = kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, { prefix: env.TOPIC_PREFIX!, partitions: 3 });
    } finally {
      await admin.disconnect();
    }
    services = await Promise.all(SERVICE_NAMES.map((name) => spawnService(name, { env, logFile: logFile(name) })));
    await eventually(async () => (await Promise.all(services.map((s) => isReady(s.httpPort)))).every(Boolean), { timeoutMs: 60_000, description: 'services ready' });
    ctx = new CliContext(env, () => undefined);
  });

  afterAll(async () => {
    await Promise.allSettled(services.map((service) => service.stop()));
    await Promise.allSettled([ctx?.close()]);
    // the topics go with the broker's storage
    await Promise.allSettled([database?.drop(), broker?.stop()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('start.sh opens the SCRAM listener, a TLS one and names the CA file', () => {
    expect(broker.output).toContain(`SASL_PLAINTEXT (SCRAM-SHA-512) on 127.0.0.1:${broker.saslPort} for user "${username}"`);
    expect(broker.output).toContain(`KAFKA_SSL_CA_FILE=${path.join(broker.dataDir, 'tls', 'ca.pem')}`);
    expect(broker.output).not.toContain(password);
  });

  it('carries documents of two tenants through the four services over SASL_PLAINTEXT', async () => {
    const sent: IngestedDocument[] = [];
    for (const tenant of tenants) {
      const folder = path.join(dir, 'docs', tenant);
      await mkdir(folder, { recursive: true });
      for (let i = 0; i < 3; i++) {
        const body = Array.from({ length: 20 * (i + 1) }, (_, n) => `Paragraph ${n} of ${tenant} document ${i}: secured brokers keep their passwords.`).join('\n\n');
        await writeFile(path.join(folder, `doc-${i}.md`), `# ${tenant} ${i}\n\n${body}\n`);
      }
      sent.push(...(await ingestCommand(ctx, [folder], { tenant, quiet: true })).sent);
    }
    expect(sent).toHaveLength(6);
    const summary = await watchProgress(ctx, sent, { timeoutMs: 120_000, tty: false });
    expect(summary).toMatchObject({ completed: 6, failed: 0 });
    expect(summary.chunksStored).toBeGreaterThan(6);
  });

  it('a CLI over SASL_SSL (KAFKA_SSL_CA_FILE) reaches the same pipeline', async () => {
    const sslEnv = { ...env, KAFKA_BROKERS: `127.0.0.1:${broker.sslPort}`, KAFKA_SSL: '1', KAFKA_SSL_CA_FILE: path.join(broker.dataDir, 'tls', 'ca.pem') };
    const sslCtx = new CliContext(sslEnv, () => undefined);
    try {
      const file = path.join(dir, 'docs', 'over-tls.md');
      await writeFile(file, '# Over TLS\n\nThis document travelled to the broker over SASL_SSL.\n');
      const { sent } = await ingestCommand(sslCtx, [file], { tenant: tenants[0]!, quiet: true });
      expect(await watchProgress(sslCtx, sent, { timeoutMs: 60_000, tty: false })).toMatchObject({ completed: 1, failed: 0 });
    } finally {
      await sslCtx.close();
    }

    // Without the CA the broker's certificate is not trusted.
    // (one attempt: a TLS failure counts as retriable for kafkajs, which would try for ~15 s)
    const untrusted = new Kafka({ ...toKafkaJsConfig(loadKafkaConfig({ ...sslEnv, KAFKA_SSL_CA_FILE: undefined }, 'test-untrusted')), retry: { retries: 0 }, logLevel: logLevel.NOTHING }).admin();
    await expect(untrusted.connect()).rejects.toThrow(/certificate/);
    await untrusted.disconnect();
  });

  it('no service writes the password to its log or its metrics', async () => {
    for (const service of services) {
      const metrics = await (await fetch(`http://127.0.0.1:${service.httpPort}/metrics`)).text();
      expect(metrics).toContain('docintel_');
      expect(metrics).not.toContain(password);
    }
    const logs: string[] = [];
    for (const name of SERVICE_NAMES) {
      // each service said that it uses SCRAM and that it started, without the secret
      const log = await readFile(logFile(name), 'utf8');
      expect(log).toContain('"sasl":"scram-sha-512"');
      expect(log).toContain('"message":"started"');
      expect(log).not.toContain(password);
      logs.push(log);
    }
    // LOG_LEVEL=debug took effect (the status service logs every event it applies at debug)
    expect(logs.join('\n')).toContain('"level":"debug"');
  });

  it("deploy/kafka/console.sh reaches it with the services' variables and leaves no password behind", async () => {
    const tmp = path.join(dir, 'console-tmp');
    await mkdir(tmp);
    const { stdout, stderr } = await run('bash', [path.join(DEPLOY_KAFKA, 'console.sh'), 'groups', '--describe', '--group', `${env.TOPIC_PREFIX}docintel-fetch`], {
      env: { ...env, TMPDIR: tmp },
      timeout: 120_000,
    });
    // the running fetch service holds the ingest partitions
    const prefix = env.TOPIC_PREFIX!;
    const row = stdout.split('\n').map((line) => line.trim().split(/\s+/)).find((cells) => cells[0] === `${prefix}docintel-fetch` && cells[2] === '0');
    expect(row?.[1]).toBe(`${prefix}document.ingest`);
    expect(row?.[6]).toMatch(/^docintel-fetch/); // CONSUMER-ID: the service's member
    expect(`${stdout}${stderr}`).not.toContain(password);
    // the client config it wrote (with the password) is gone
    expect(await readdir(tmp)).toEqual([]);
  });

  it('a wrong password fails with an error that repeats neither password', async () => {
    const wrongEnv = { ...env, KAFKA_SASL_PASSWORD: wrong };
    const admin = createKafka(loadKafkaConfig(wrongEnv, 'test-wrong'), testLogger('kafka')).admin({ retry: { retries: 0 } });
    const error = await admin.connect().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    await admin.disconnect();
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/authentication failed/i);
    for (const secret of [wrong, password]) expect(errorText(error)).not.toContain(secret);

    // A service started with it stops at once, and neither its error nor its log holds the password.
    const failed = await spawnService('fetch', { env: wrongEnv, logFile: logFile('fetch-wrong-password') }).then(
      (service) => service.stop().then(() => new Error('the service started with a wrong password')),
      (caught: unknown) => caught,
    );
    expect(errorText(failed)).toMatch(/exited with code [1-9]/);
    expect(errorText(failed)).toMatch(/authentication failed/i);
    const log = await readFile(logFile('fetch-wrong-password'), 'utf8');
    expect(log).toMatch(/authentication failed/i);
    for (const secret of [wrong, password]) {
      expect(errorText(failed)).not.toContain(secret);
      expect(log).not.toContain(secret);
    }
  });

  it('the broker keeps neither password in its files: config, logs, metadata log (only a salted hash)', async () => {
    const files = (await readdir(broker.dataDir, { recursive: true, withFileTypes: true }))
      // index files are preallocated (10 MB of zeros each) and hold offsets, never data
      .filter((entry) => entry.isFile() && !/\.(time)?index$/.test(entry.name));
    expect(files.map((entry) => entry.name)).toEqual(expect.arrayContaining(['server.properties', 'server.log', 'scram-user.log']));
    const server = await readFile(path.join(broker.dataDir, 'server.log'), 'utf8');
    expect(server).toMatch(/Failed authentication/); // the wrong password above was seen, and logged
    for (const entry of files) {
      const bytes = await readFile(path.join(entry.parentPath, entry.name));
      for (const secret of [password, wrong]) expect({ file: entry.name, leaks: bytes.includes(secret) }).toEqual({ file: entry.name, leaks: false });
    }
  });
});
