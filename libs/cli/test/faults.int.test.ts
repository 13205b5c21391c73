import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HEADERS, dlqTopic, encodeVector, contentHash, parseVectorId, topicNames } from '@docintel/contracts';
import { upsertDocument } from '@docintel/db';
import { CliContext, ingestCommand, replayCommand, SERVICE_NAMES, type IngestedDocument, type ServiceName } from '@docintel/cli';
import { createKafka, ensureTopics, loadKafkaConfig } from '@docintel/kafka';
import { createTestDatabase, eventually, readTopic, testLogger, uniqueSuffix, type TestDatabase } from '@docintel/testing';
import { createVectorStore, type VectorStore } from '@docintel/vectorstore';
import { PrivateBroker, Supervisor } from './chaos';
import { random, writeCorpus } from './corpus';

/**
 * Nothing lost, nothing duplicated, under faults. `npm test` runs a small version; `npm run
 * test:faults` the full one (FAULT_SCALE=full: 1,002 documents, every service killed twice).
 */
const FULL = process.env.FAULT_SCALE === 'full';
const DOCS_PER_TENANT = FULL ? 334 : 20;
const KILLS_PER_SERVICE = FULL ? 2 : 1;
const DEADLINE_MS = FULL ? 20 * 60_000 : 4 * 60_000;

describe(`fault suite (${FULL ? 'full' : 'small'})`, () => {
  const suffix = uniqueSuffix().slice(-6);
  const tenants = [`fa${suffix}`, `fb${suffix}`, `fc${suffix}`];
  const prefix = `faults-${suffix}.`;
  let dir: string;
  let broker: PrivateBroker;
  let database: TestDatabase;
  let supervisor: Supervisor;
  let ctx: CliContext;
  let store: VectorStore;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'docintel-faults-'));
    broker = new PrivateBroker(19_500 + Math.floor(Math.random() * 400), path.join(dir, 'kafka'));
    [database] = await Promise.all([createTestDatabase(), broker.start()]);
    env = {
      ...process.env,
      KAFKA_BROKERS: broker.address,
      TOPIC_PREFIX: prefix,
      DATABASE_URL: database.url,
      LANCEDB_DIR: path.join(dir, 'lancedb'),
      HTTP_PORT: '0',
      LOG_LEVEL: 'info',
      RETRY_DELAYS_MS: '1000,3000,8000',
      MAX_DOCUMENT_BYTES: '100000',
      CHAOS_EMBEDDING_FAILURE_RATE: '0.2',
      CHAOS_VECTOR_STORE_FAILURE_RATE: '0.1',
      SHUTDOWN_GRACE_MS: '10000',
    };
    const kafka = createKafka(loadKafkaConfig(env, 'faults'), testLogger());
    const admin = kafka.admin();
    await admin.connect();
    await ensureTopics(admin, { prefix, partitions: 6 });
    await admin.disconnect();
    supervisor = new Supervisor(env, path.join(dir, 'logs'));
    await supervisor.startAll();
    ctx = new CliContext(env, () => undefined);
    store = createVectorStore({ kind: 'lancedb', directory: path.join(dir, 'lancedb'), dimension: 384 });
  });

  afterAll(async () => {
    await supervisor?.stopAll();
    await Promise.allSettled([ctx?.close(), store?.close()]);
    await Promise.allSettled([database?.drop(), broker?.stop()]);
    if (dir && process.env.KEEP_TEST_DIR === undefined) await rm(dir, { recursive: true, force: true });
  });

  it('completes every document that can be completed, loses none, duplicates none, and dead-letters exactly the poison', async () => {
    const started = Date.now();
    const corpus = await writeCorpus(path.join(dir, 'docs'), tenants, DOCS_PER_TENANT, 25);
    const topics = topicNames(prefix);
    const [t0, t1] = [tenants[0]!, tenants[1]!];

    // Chaos, on a seeded schedule over the ingestion: every service killed and restarted, the broker once.
    const next = random(42);
    const events: Array<{ at: number; what: ServiceName | 'broker' }> = [];
    for (const name of SERVICE_NAMES) for (let i = 0; i < KILLS_PER_SERVICE; i++) events.push({ at: next(), what: name });
    events.push({ at: 0.5, what: 'broker' });
    events.sort((a, b) => a.at - b.at);

    const ingested: IngestedDocument[] = [];
    const files = corpus.map((doc) => doc);
    const slices = 10;
    let eventIndex = 0;
    for (let slice = 0; slice < slices; slice++) {
      const part = files.slice(Math.floor((slice * files.length) / slices), Math.floor(((slice + 1) * files.length) / slices));
      for (const tenant of tenants) {
        const mine = part.filter((doc) => doc.tenant === tenant).map((doc) => doc.file);
        if (mine.length > 0) ingested.push(...(await ingestCommand(ctx, mine, { tenant, quiet: true })).sent);
      }
      while (eventIndex < events.length && events[eventIndex]!.at <= (slice + 1) / slices) {
        const event = events[eventIndex++]!;
        if (event.what === 'broker') {
          await broker.kill();
          await broker.start();
        } else {
          await supervisor.kill(event.what);
        }
      }
    }

    // One message of each poison kind.
    const poisonDoc = async (tenant: string, source: string, mimeType: string, content: Buffer) =>
      (await upsertDocument(database.pool, { tenantId: tenant, source: path.join(dir, source), mimeType, content })).id;
    const tooLarge = await poisonDoc(t0, 'too-large.txt', 'text/plain', Buffer.alloc(150_000, 'a '));
    const unsupported = await poisonDoc(t0, 'image.png', 'image/png', Buffer.from('not really a png'));
    const corrupt = await poisonDoc(t1, 'fake.txt', 'text/plain', Buffer.from('%PDF-1.7\n%\xe2\xe3\xcf\xd3 binary', 'latin1'));
    const victim = ingested.find((d) => d.tenantId === tenants[2])!;
    const unknownId = `${t1}-unknown-${suffix}`;
    const ingestMessage = (tenant: string, documentId: string) => ({ topic: topics.ingest, key: tenant, value: { tenantId: tenant, documentId, version: 1 } });
    await ctx.send([
      { topic: topics.ingest, key: t0, value: Buffer.from('{"tenantId": "broken json') },
      { topic: topics.ingest, key: t0, value: { tenantId: t0, documentId: 'schema-bad', version: 'one' } },
      ingestMessage(t1, unknownId),
      ingestMessage(t0, victim.documentId),
      ingestMessage(t0, tooLarge),
      ingestMessage(t0, unsupported),
      ingestMessage(t1, corrupt),
      {
        topic: topics.vectors,
        key: t1,
        value: {
          tenantId: t1, documentId: `${t1}-wrong-dimension`, version: 1, op: 'upsert', title: 'poison', mimeType: 'text/plain',
          batchIndex: 0, totalBatches: 1, totalChunks: 1, model: 'docintel-local-v1', dimension: 5,
          chunks: [{ index: 0, text: 'five numbers', hash: contentHash('five numbers'), vector: encodeVector([1, 2, 3, 4, 5]) }],
        },
      },
    ]);
    const expectedDead: Record<string, string> = {
      INVALID_JSON: topics.ingest, SCHEMA_INVALID: topics.ingest, DOCUMENT_NOT_FOUND: topics.ingest, TENANT_MISMATCH: topics.ingest,
      DOCUMENT_TOO_LARGE: topics.ingest, UNSUPPORTED_MEDIA_TYPE: topics.ingest, CORRUPT_DOCUMENT: topics.ingest, DIMENSION_MISMATCH: topics.vectors,
    };

    // Every document that can be completed is completed.
    const states = async () => {
      const result = await database.pool.query<{ tenant_id: string; document_id: string; version: number; state: string }>(
        `select tenant_id, document_id, version, state from document_status
          where (tenant_id, document_id, version) in (select * from unnest($1::text[], $2::text[], $3::int[]))`,
        [ingested.map((d) => d.tenantId), ingested.map((d) => d.documentId), ingested.map((d) => d.version)],
      );
      return result.rows;
    };
    await eventually(async () => (await states()).filter((row) => row.state === 'completed').length === ingested.length, {
      timeoutMs: DEADLINE_MS,
      intervalMs: 1_000,
      description: `${ingested.length} documents completed`,
    }).catch(() => undefined);
    const rows = await states();
    const completed = rows.filter((row) => row.state === 'completed').length;

    const dead = await eventually(
      async () => {
        const all = (await Promise.all([topics.ingest, topics.chunks, topics.vectors, topics.status].map((t) => readTopic(ctx.kafka, dlqTopic(t))))).flat();
        return all.length >= Object.keys(expectedDead).length ? all : undefined;
      },
      { timeoutMs: 60_000, description: 'the poison in the DLQs' },
    );

    let duplicates = 0;
    let wrongNamespace = 0;
    let vectors = 0;
    for (const tenant of tenants) {
      const ids = await store.listIds(tenant);
      vectors += ids.length;
      duplicates += ids.length - new Set(ids).size;
      const mine = new Set(ingested.filter((d) => d.tenantId === tenant).map((d) => d.documentId));
      wrongNamespace += ids.filter((id) => !mine.has(parseVectorId(id).documentId)).length;
    }
    const table = [
      ['documents ingested (not poison)', ingested.length],
      ['documents completed', completed],
      ['lost', ingested.length - completed],
      ['vectors', vectors],
      ['duplicate vectors', duplicates],
      ['vectors in a wrong namespace', wrongNamespace],
      ['DLQ messages', dead.length],
      ['service kills (SIGKILL)', Object.values(supervisor.kills).reduce((a, b) => a + b, 0)],
      ['service restarts', Object.values(supervisor.restarts).reduce((a, b) => a + b, 0)],
      ['broker kills', 1],
      ['seconds', Math.round((Date.now() - started) / 1000)],
    ];
    const width = Math.max(...table.map(([label]) => String(label).length));
    process.stdout.write(`\nfault suite (${FULL ? 'full' : 'small'}):\n${table.map(([label, value]) => `  ${String(label).padEnd(width)}  ${value}`).join('\n')}\n`);
    process.stdout.write(`DLQ:\n${dead.map((m) => `  ${m.topic}  ${m.headers[HEADERS.errorCode]}: ${m.headers[HEADERS.errorMessage]}`).join('\n')}\n`);

    expect(completed).toBe(ingested.length);
    expect(duplicates).toBe(0);
    expect(wrongNamespace).toBe(0);
    expect(Object.fromEntries(dead.map((m) => [m.headers[HEADERS.errorCode], m.topic.replace(/\.dlq$/, '')]))).toEqual(expectedDead);
    expect(dead).toHaveLength(Object.keys(expectedDead).length);
    for (const m of dead) expect(m.headers[HEADERS.errorMessage]!.length).toBeGreaterThan(10);
    for (const name of SERVICE_NAMES) expect(supervisor.kills[name]).toBe(KILLS_PER_SERVICE);

    // The cause removed (the document now exists), a replay completes it.
    await upsertDocument(database.pool, { id: unknownId, tenantId: t1, source: path.join(dir, 'late.md'), mimeType: 'text/markdown', content: Buffer.from('# Late\n\nThis document arrived after its message.') });
    const replayed = await replayCommand(ctx, { from: 'ingest', dryRun: false, code: 'DOCUMENT_NOT_FOUND' });
    expect(replayed.sent).toBe(1);
    await eventually(
      async () => {
        const row = await database.pool.query<{ state: string }>('select state from document_status where tenant_id = $1 and document_id = $2 and version = 1', [t1, unknownId]);
        return row.rows[0]?.state === 'completed';
      },
      { timeoutMs: 60_000, description: 'the replayed document completed' },
    );
  }, DEADLINE_MS + 5 * 60_000);
});
