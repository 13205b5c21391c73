import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CliContext, ingestCommand, spawnService, watchProgress, type IngestedDocument, type ServiceName, type ServiceProcess } from '@docintel/cli';
import { startGeminiEmulator, startPineconeEmulator, type Emulator } from '@docintel/emulators';
import { createTestDatabase, createTestTopics, eventually, scrapeMetric, uniqueSuffix, type TestDatabase, type TestTopics } from '@docintel/testing';
import { writeCorpus } from './corpus';

/**
 * The production adapters under provider trouble (`npm run test:slow`; minutes, not seconds): an
 * outage of the embedding API, and two embed replicas under one requests-per-minute budget.
 */
describe('production providers under trouble', () => {
  let topics: TestTopics;
  let database: TestDatabase;
  let dir: string;
  let gemini: Emulator;
  let pinecone: Emulator;
  let services: ServiceProcess[] = [];
  let ctx: CliContext;

  async function start(extra: NodeJS.ProcessEnv, counts: Partial<Record<ServiceName, number>> = {}) {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TOPIC_PREFIX: topics.prefix,
      DATABASE_URL: database.url,
      HTTP_PORT: '0',
      LOG_LEVEL: 'info',
      RETRY_DELAYS_MS: '500,1000,2000',
      EMBEDDING_PROVIDER: 'gemini',
      GEMINI_API_KEY: 'slow-key',
      GEMINI_BASE_URL: gemini.url,
      GEMINI_TIMEOUT_MS: '5000',
      VECTOR_STORE: 'pinecone',
      PINECONE_API_KEY: 'slow-key',
      PINECONE_INDEX_HOST: pinecone.url,
      BREAKER_RESET_MS: '2000',
      ...extra,
    };
    for (const name of ['fetch', 'embed', 'store', 'status'] as const) {
      for (let i = 0; i < (counts[name] ?? 1); i++) services.push(await spawnService(name, { env, logFile: path.join(dir, 'logs', `${name}-${i}.log`) }));
    }
    ctx = new CliContext(env, () => undefined);
  }

  beforeEach(async () => {
    [topics, database, dir] = await Promise.all([createTestTopics({ partitions: 6 }), createTestDatabase(), mkdtemp(path.join(os.tmpdir(), 'docintel-slow-'))]);
    [gemini, pinecone] = await Promise.all([startGeminiEmulator({ apiKey: 'slow-key' }), startPineconeEmulator({ apiKey: 'slow-key', dimension: 768 })]);
  });

  afterEach(async () => {
    await Promise.allSettled(services.map((service) => service.stop()));
    services = [];
    await Promise.allSettled([ctx?.close(), gemini.close(), pinecone.close(), database.drop(), topics.cleanup()]);
    if (process.env.KEEP_TEST_DIR === undefined) await rm(dir, { recursive: true, force: true });
  });

  const total = async (name: ServiceName, metric: string, labels: Record<string, string> = {}) =>
    (await Promise.all(services.filter((s) => s.name === name).map((s) => scrapeMetric(s.httpPort, metric, labels)))).reduce((a, b) => a + b, 0);

  it('rides out 30 s of the embedding API being down: pauses, resumes, fails nothing, retries nothing', async () => {
    await start({});
    const tenants = [`o1${uniqueSuffix().slice(-5)}`, `o2${uniqueSuffix().slice(-5)}`];
    const corpus = await writeCorpus(path.join(dir, 'docs'), tenants, 40, 10);
    const ingest = async (part: typeof corpus) => {
      const sent: IngestedDocument[] = [];
      for (const tenant of tenants) {
        const files = part.filter((d) => d.tenant === tenant).map((d) => d.file);
        sent.push(...(await ingestCommand(ctx, files, { tenant, quiet: true })).sent);
      }
      return sent;
    };
    const first = await ingest(corpus.filter((_, i) => i % 2 === 0));
    await eventually(async () => (await total('store', 'docintel_messages_total', { outcome: 'ok' })) >= 5, { timeoutMs: 60_000, description: 'work under way' });

    await gemini.setFaults({ down: true });
    const downAt = Date.now();
    const second = await ingest(corpus.filter((_, i) => i % 2 === 1));
    const paused = await eventually(async () => (await total('embed', 'docintel_consumer_paused', { reason: 'breaker' })) > 0, {
      timeoutMs: 20_000,
      description: 'embed paused by its breaker',
    });
    expect(paused).toBe(true);
    await eventually(() => Date.now() - downAt >= 30_000, { timeoutMs: 35_000, intervalMs: 500, description: '30 s of outage' });
    await gemini.setFaults({ down: false });

    const summary = await watchProgress(ctx, [...first, ...second], { timeoutMs: 180_000, tty: false });
    expect(summary).toMatchObject({ completed: first.length + second.length, failed: 0 });
    expect(await total('embed', 'docintel_retries_total')).toBe(0);
    expect(await total('embed', 'docintel_dead_letters_total')).toBe(0);
    expect(await total('embed', 'docintel_breaker_transitions_total', { breaker: 'embedding', state: 'open' })).toBeGreaterThanOrEqual(1);
    expect(await total('embed', 'docintel_breaker_transitions_total', { breaker: 'embedding', state: 'closed' })).toBeGreaterThanOrEqual(1);
    expect(await total('embed', 'docintel_consumer_paused', { reason: 'breaker' })).toBe(0);
  });

  it('keeps two embed replicas together within one budget of 600 requests per minute', async () => {
    // Three texts a request, so the corpus needs more than a minute's budget of requests.
    await start({ EMBEDDING_RPM: '600', EMBEDDING_MAX_BATCH: '3' }, { embed: 2 });
    const tenants = [`r1${uniqueSuffix().slice(-5)}`, `r2${uniqueSuffix().slice(-5)}`, `r3${uniqueSuffix().slice(-5)}`];
    const corpus = await writeCorpus(path.join(dir, 'docs'), tenants, 25, 3);
    const sent: IngestedDocument[] = [];
    for (const tenant of tenants) sent.push(...(await ingestCommand(ctx, [path.join(dir, 'docs', tenant)], { tenant, quiet: true })).sent);
    expect(corpus).toHaveLength(75);
    const summary = await watchProgress(ctx, sent, { timeoutMs: 300_000, tty: false });
    expect(summary).toMatchObject({ completed: 75, failed: 0 });

    const stats = gemini.stats();
    process.stdout.write(`gemini emulator, requests per minute: ${JSON.stringify(stats.perMinute)}\n`);
    expect(stats.requests).toBeGreaterThan(600);
    for (const minute of stats.perMinute) expect(minute.requests).toBeLessThanOrEqual(600);
    expect(stats.injected.requestsPerMinuteLimited).toBe(0);
    // Both replicas did part of the work.
    for (const replica of services.filter((s) => s.name === 'embed')) {
      expect(await scrapeMetric(replica.httpPort, 'docintel_embedding_requests_total')).toBeGreaterThan(0);
    }
  });
});
