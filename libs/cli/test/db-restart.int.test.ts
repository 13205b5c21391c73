import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { dlqTopic, type TopicNames } from '@docintel/contracts';
import { createPool, ensureDatabase, migrate } from '@docintel/db';
import { CliContext, SERVICE_NAMES, ingestCommand, spawnService, type IngestedDocument, type ServiceName, type ServiceProcess } from '@docintel/cli';
import {
  createTestTopics,
  eventually,
  isReady,
  readTopic,
  scrapeMetric,
  startPostgresCluster,
  testLogger,
  uniqueSuffix,
  type PostgresCluster,
  type TestTopics,
} from '@docintel/testing';
import { createVectorStore, type VectorStore } from '@docintel/vectorstore';
import type pg from 'pg';
import { writeCorpus } from './corpus';

/**
 * Database faults are outages, not crashes. The four services run as processes on a PostgreSQL
 * server of this test's own, which is restarted while a burst of documents is in flight: once with
 * `pg_ctl restart -m fast` (sessions are told to go), later with `-m immediate` (the server dies
 * and recovers). No service may exit, every document must complete, and no vector may be written
 * twice. `DB_RESTART_DOCUMENTS` sets the size of the burst (300).
 */
const DOCUMENTS = Number(process.env.DB_RESTART_DOCUMENTS ?? 300);
const DEADLINE_MS = Number(process.env.DB_RESTART_DEADLINE_MS ?? 5 * 60_000);
/** When each restart happens: once this share of the burst is completed. */
const RESTARTS = [
  { mode: 'fast', atShare: 0.15 },
  { mode: 'immediate', atShare: 0.55 },
] as const;

describe('PostgreSQL restarts during a burst', () => {
  const suffix = uniqueSuffix().slice(-6);
  const tenants = [`ra${suffix}`, `rb${suffix}`, `rc${suffix}`];
  let cluster: PostgresCluster;
  let topics: TestTopics;
  let dir: string;
  let pool: pg.Pool;
  let env: NodeJS.ProcessEnv;
  let ctx: CliContext;
  let store: VectorStore;
  const services = new Map<ServiceName, ServiceProcess>();
  const exits: string[] = [];
  const probes = { healthzFailures: 0, readyzFailures: 0, polls: 0 };
  let probing: NodeJS.Timeout | undefined;

  beforeAll(async () => {
    [cluster, topics, dir] = await Promise.all([startPostgresCluster(), createTestTopics({ partitions: 6 }), mkdtemp(path.join(os.tmpdir(), 'docintel-db-restart-'))]);
    const url = cluster.url('docintel');
    await ensureDatabase(url);
    // The test's own view of the database lives through the restarts too.
    pool = createPool(url, { max: 2, applicationName: 'docintel-test-db-restart', logger: testLogger() });
    await migrate(pool);
    env = {
      ...process.env,
      TOPIC_PREFIX: topics.prefix,
      DATABASE_URL: url,
      LANCEDB_DIR: path.join(dir, 'lancedb'),
      HTTP_PORT: '0',
      LOG_LEVEL: process.env.DB_RESTART_LOG_LEVEL ?? 'info',
      RETRY_DELAYS_MS: '1000,3000,8000',
      BREAKER_RESET_MS: '1000',
      SHUTDOWN_GRACE_MS: '10000',
    };
    for (const service of await Promise.all(SERVICE_NAMES.map((name) => spawnService(name, { env, logFile: path.join(dir, 'logs', `${name}.log`) })))) {
      services.set(service.name, service);
      service.child.once('exit', (code, signal) => exits.push(`${service.name} (code ${String(code)}, signal ${String(signal)})`));
    }
    await eventually(async () => (await Promise.all([...services.values()].map((s) => isReady(s.httpPort)))).every(Boolean), {
      timeoutMs: 60_000,
      description: 'services ready',
    });
    ctx = new CliContext(env, () => undefined);
    store = createVectorStore({ kind: 'lancedb', directory: path.join(dir, 'lancedb'), dimension: 384 });
  });

  afterAll(async () => {
    clearInterval(probing);
    await Promise.allSettled([...services.values()].map((service) => service.stop()));
    await Promise.allSettled([ctx?.close(), store?.close(), pool?.end()]);
    await Promise.allSettled([topics?.cleanup(), cluster?.stop()]);
    if (dir && process.env.KEEP_TEST_DIR === undefined) await rm(dir, { recursive: true, force: true });
  });

  /** What every service's /healthz and /readyz answer, polled all along: liveness must never fail. */
  function watchProbes(): void {
    const answers = async (port: number, probe: string) => {
      try {
        return (await fetch(`http://127.0.0.1:${port}/${probe}`, { signal: AbortSignal.timeout(3_000) })).ok;
      } catch {
        return false;
      }
    };
    let busy = false;
    probing = setInterval(() => {
      if (busy) return;
      busy = true;
      void Promise.all(
        [...services.values()].map(async (service) => {
          const [live, ready] = await Promise.all([answers(service.httpPort, 'healthz'), answers(service.httpPort, 'readyz')]);
          probes.polls += 1;
          if (!live) probes.healthzFailures += 1;
          if (!ready) probes.readyzFailures += 1;
        }),
      ).finally(() => (busy = false));
    }, 250);
  }

  /** Sum of a metric over the four services. */
  const total = async (name: string, labels: Record<string, string> = {}) =>
    (await Promise.all([...services.values()].map((service) => scrapeMetric(service.httpPort, name, labels)))).reduce((a, b) => a + b, 0);

  it(`completes a ${DOCUMENTS}-document burst through a fast and an immediate restart: no service exits, nothing is lost or written twice`, async () => {
    const started = Date.now();
    const perTenant = Math.ceil(DOCUMENTS / tenants.length);
    const corpus = await writeCorpus(path.join(dir, 'docs'), tenants, perTenant, 25);
    const ingested: IngestedDocument[] = [];
    for (const tenant of tenants) {
      const files = corpus.filter((doc) => doc.tenant === tenant).map((doc) => doc.file);
      ingested.push(...(await ingestCommand(ctx, files.slice(0, DOCUMENTS - ingested.length), { tenant, quiet: true })).sent);
    }
    expect(ingested).toHaveLength(DOCUMENTS);
    watchProbes();

    const states = async () => {
      const result = await pool.query<{ state: string; n: string }>(
        `select state, count(*) as n from document_status
          where (tenant_id, document_id, version) in (select * from unnest($1::text[], $2::text[], $3::int[]))
          group by state`,
        [ingested.map((d) => d.tenantId), ingested.map((d) => d.documentId), ingested.map((d) => d.version)],
      );
      return Object.fromEntries(result.rows.map((row) => [row.state, Number(row.n)]));
    };
    const completed = async () => (await states()).completed ?? 0;

    const restarts: Array<{ mode: string; atCompleted: number; ms: number }> = [];
    for (const restart of RESTARTS) {
      // Reads fail while the server is away; eventually() tries again.
      const atCompleted = await eventually(async () => {
        const done = await completed();
        return done >= Math.floor(DOCUMENTS * restart.atShare) ? done : undefined;
      }, { timeoutMs: DEADLINE_MS, intervalMs: 100 }).catch(() => undefined);
      // Stuck before it: the report below shows where, and the restarts missing.
      if (atCompleted === undefined) break;
      const ms = await cluster.restart(restart.mode);
      restarts.push({ mode: restart.mode, atCompleted, ms });
    }

    await eventually(async () => (await completed()) === DOCUMENTS, { timeoutMs: DEADLINE_MS, intervalMs: 500, description: `${DOCUMENTS} documents completed` }).catch(() => undefined);
    const finalStates = await eventually(states, { timeoutMs: 30_000, description: 'the final states' });
    const seconds = Math.round((Date.now() - started) / 1000);
    clearInterval(probing);

    let vectors = 0;
    let duplicates = 0;
    for (const tenant of tenants) {
      const ids = await store.listIds(tenant);
      vectors += ids.length;
      duplicates += ids.length - new Set(ids).size;
    }
    const expectedVectors = Number(
      (
        await pool.query<{ n: string }>(
          `select coalesce(sum(total_chunks), 0) as n from document_status
            where (tenant_id, document_id, version) in (select * from unnest($1::text[], $2::text[], $3::int[]))`,
          [ingested.map((d) => d.tenantId), ingested.map((d) => d.documentId), ingested.map((d) => d.version)],
        )
      ).rows[0]!.n,
    );
    const names: Array<keyof TopicNames> = ['ingest', 'chunks', 'vectors', 'status'];
    const deadLetters = (await Promise.all(names.map((name) => readTopic(topics.kafka, dlqTopic(ctx.topics[name]))))).flat().length;
    const retriedForDatabase = await total('docintel_retries_total', { code: 'DATABASE_UNAVAILABLE' });
    const table: Array<[string, string | number]> = [
      ...restarts.map((r, i): [string, string] => [`restart ${i + 1}`, `-m ${r.mode} at ${r.atCompleted}/${DOCUMENTS} completed, ${r.ms} ms`]),
      ['documents completed', `${finalStates.completed ?? 0}/${DOCUMENTS}`],
      ['documents failed', finalStates.failed ?? 0],
      ['vectors (expected)', `${vectors} (${expectedVectors})`],
      ['duplicate vectors', duplicates],
      ['service exits', exits.length === 0 ? 0 : exits.join(', ')],
      ['postgres breaker opened (all services)', await total('docintel_breaker_transitions_total', { breaker: 'postgres', state: 'open' })],
      ['messages held', await total('docintel_messages_total', { outcome: 'held' })],
      ['retries for DATABASE_UNAVAILABLE', retriedForDatabase],
      ['retries, all codes', await total('docintel_retries_total')],
      ['dead letters', deadLetters],
      ['/healthz failures (polls)', `${probes.healthzFailures} (${probes.polls})`],
      ['/readyz failures', probes.readyzFailures],
      ['seconds', seconds],
    ];
    if ((finalStates.completed ?? 0) < DOCUMENTS) {
      // What was left undone, and where each service stands, for the failure report.
      const stuck = await pool.query(
        `select document_id, version, state, stage, total_batches, total_chunks, stored_chunks from document_status
          where (tenant_id, document_id, version) in (select * from unnest($1::text[], $2::text[], $3::int[])) and state <> 'completed'`,
        [ingested.map((d) => d.tenantId), ingested.map((d) => d.documentId), ingested.map((d) => d.version)],
      );
      for (const row of stuck.rows) table.push(['not completed', JSON.stringify(row)]);
      // How far each stage's group got on its topic, partition by partition (committed/end).
      const admin = topics.kafka.admin();
      await admin.connect();
      try {
        for (const [name, topic] of [['fetch', ctx.topics.ingest], ['embed', ctx.topics.chunks], ['store', ctx.topics.vectors], ['status', ctx.topics.status]] as const) {
          const ends = await admin.fetchTopicOffsets(topic);
          const [committed] = await admin.fetchOffsets({ groupId: `${topics.prefix}docintel-${name}`, topics: [topic] });
          const behind = ends
            .map((end) => ({ partition: end.partition, end: end.offset, at: committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? '-' }))
            .filter((p) => p.at !== p.end)
            .map((p) => `p${p.partition} ${p.at}/${p.end}`);
          table.push([`${name}: partitions behind (committed/end)`, behind.join(', ') || 'none']);
        }
      } finally {
        await admin.disconnect();
      }
      for (const service of services.values()) {
        const paused = await Promise.all(['breaker', 'retry-delay', 'rate-limited'].map((reason) => scrapeMetric(service.httpPort, 'docintel_consumer_paused', { reason })));
        const breakers = await Promise.all(['postgres', 'vectorstore', 'embedding'].map((breaker) => scrapeMetric(service.httpPort, 'docintel_breaker_state', { breaker })));
        table.push([`${service.name}: paused (breaker, retry, rate), breakers`, `${paused.join(', ')}; ${breakers.join(', ')}`]);
      }
    }
    const width = Math.max(...table.map(([label]) => label.length));
    process.stdout.write(`\nPostgreSQL restarts during a ${DOCUMENTS}-document burst:\n${table.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`).join('\n')}\n`);

    expect(exits).toEqual([]);
    expect(finalStates).toEqual({ completed: DOCUMENTS });
    expect(duplicates).toBe(0);
    expect(vectors).toBe(expectedVectors);
    expect(deadLetters).toBe(0);
    expect(probes.healthzFailures).toBe(0);
    // Both restarts happened, while work was in flight.
    expect(restarts.map((r) => r.mode)).toEqual(RESTARTS.map((r) => r.mode));
    for (const restart of restarts) expect(restart.atCompleted).toBeLessThan(DOCUMENTS);
  }, DEADLINE_MS + 3 * 60_000);
});
