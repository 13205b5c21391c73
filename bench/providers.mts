/**
 * `npm run bench:providers`: how many embedding requests the pipeline spends. The services run on
 * the production adapters (Gemini, Pinecone) against the local emulators, which count what they
 * receive. About 10,000 chunks of mixed documents from 5 tenants go through once (the floor is one
 * request per 100 chunks), then the same versions are replayed (the floor is zero).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, SERVICE_NAMES, spawnService, type ServiceProcess } from '@docintel/cli';
import { createLogger, quietKnownWarnings, seededRandom } from '@docintel/core';
import { topicNames } from '@docintel/contracts';
import { createPool, ensureDatabase, migrate, upsertDocument } from '@docintel/db';
import { startGeminiEmulator, startPineconeEmulator } from '@docintel/emulators';
import { createKafka, createProducer, deleteTopics, ensureTopics, loadKafkaConfig, sendAll, withStandardHeaders } from '@docintel/kafka';
import { scrapeMetric } from '@docintel/testing';

quietKnownWarnings();
const { values } = parseArgs({ options: { docs: { type: 'string', default: '210' }, tenants: { type: 'string', default: '5' } } });
const DOCS = Number(values.docs);
const TENANTS = Array.from({ length: Number(values.tenants) }, (_, i) => `prov${i}`);
const say = (line: string) => process.stderr.write(`bench: ${line}\n`);

const next = seededRandom(11);
const WORDS = 'account adapter archive audit balance batch billing branch buffer cache capacity catalog channel client cluster commit config contract cursor dataset deploy digest domain engine event export feature filter gateway graph handler index invoice journal kernel ledger limit listener manifest metric module monitor network offset order packet parser payload pipeline policy portal profile quota record region release replica report request resource router schedule schema search segment server session signal snapshot source storage stream summary table template tenant ticket token topic trace'.split(' ');

const suffix = Date.now().toString(36);
const prefix = `bench-prov-${suffix}.`;
const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/docintel';
const databaseUrl = adminUrl.replace(/\/[^/]*$/, `/docintel_bench_${suffix}`);
const work = mkdtempSync(path.join(os.tmpdir(), 'docintel-bench-providers-'));
if (!process.env.KAFKA_BROKERS) execFileSync('bash', [path.join(ROOT, 'deploy', 'kafka', 'start.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
const [gemini, pinecone] = await Promise.all([startGeminiEmulator({ apiKey: 'bench-key' }), startPineconeEmulator({ apiKey: 'bench-key', dimension: 768 })]);
const env: NodeJS.ProcessEnv = {
  ...process.env,
  TOPIC_PREFIX: prefix,
  DATABASE_URL: databaseUrl,
  HTTP_PORT: '0',
  LOG_LEVEL: 'info',
  EMBEDDING_PROVIDER: 'gemini',
  GEMINI_API_KEY: 'bench-key',
  GEMINI_BASE_URL: gemini.url,
  VECTOR_STORE: 'pinecone',
  PINECONE_API_KEY: 'bench-key',
  PINECONE_INDEX_HOST: pinecone.url,
};
await ensureDatabase(databaseUrl);
const pool = createPool(databaseUrl, { max: 8 });
await migrate(pool);
const kafka = createKafka(loadKafkaConfig(env, 'bench'), createLogger({ service: 'bench', level: 'error', stderr: true }));
const admin = kafka.admin();
await admin.connect();
await ensureTopics(admin, { prefix, partitions: 12 });
const topics = topicNames(prefix);

// Mixed documents: 2 KB to 120 KB, log-uniform; many small ones leave partial batches to pack.
const documents: Array<{ tenantId: string; documentId: string; version: number }> = [];
for (let i = 0; i < DOCS; i++) {
  const size = Math.round(Math.exp(Math.log(2_048) + next() * (Math.log(120 * 1024) - Math.log(2_048))));
  let text = `# Document ${i}\n\n`;
  while (text.length < size) text += `${Array.from({ length: 80 }, () => WORDS[Math.floor(next() * WORDS.length)]).join(' ')}.\n\n`;
  const tenantId = TENANTS[i % TENANTS.length]!;
  const result = await upsertDocument(pool, { tenantId, source: `bench/${i}.md`, mimeType: 'text/markdown', content: Buffer.from(text.slice(0, size)) });
  documents.push({ tenantId, documentId: result.id, version: result.version });
}

const services: ServiceProcess[] = [];
for (const name of SERVICE_NAMES) services.push(await spawnService(name, { env, logFile: path.join(work, 'logs', `${name}.log`) }));
const store = services.find((s) => s.name === 'store')!;
const producer = createProducer(kafka);
await producer.connect();
const ingest = () =>
  sendAll(
    producer,
    documents.map((d) => ({ topic: topics.ingest, message: withStandardHeaders({ topic: topics.ingest, key: d.tenantId, value: d }, `bench-${d.documentId}`) })),
  );

say(`${DOCS} documents of ${TENANTS.length} tenants through Gemini and Pinecone (emulated)`);
const started = Date.now();
await ingest();
for (;;) {
  const done = await pool.query<{ n: string }>("select count(*) as n from document_status where state = 'completed'");
  if (Number(done.rows[0]!.n) === DOCS) break;
  if (Date.now() - started > 10 * 60_000) throw new Error('the first pass took longer than 10 minutes');
  await new Promise((resolve) => setTimeout(resolve, 500));
}
const firstSeconds = (Date.now() - started) / 1000;
const chunks = Number((await pool.query<{ n: string }>("select sum(total_chunks) as n from document_status where state = 'completed'")).rows[0]!.n);
const batches = Number((await pool.query<{ n: string }>("select sum(total_batches) as n from document_status where state = 'completed'")).rows[0]!.n);
const firstRequests = gemini.stats().requests;
const firstTexts = gemini.stats().counters.texts ?? 0;

say('replaying the same versions');
const storedBefore = await scrapeMetric(store.httpPort, 'docintel_messages_total', { outcome: 'ok' });
await ingest();
const replayStarted = Date.now();
while ((await scrapeMetric(store.httpPort, 'docintel_messages_total', { outcome: 'ok' })) < storedBefore + batches) {
  if (Date.now() - replayStarted > 5 * 60_000) throw new Error('the replay took longer than 5 minutes');
  await new Promise((resolve) => setTimeout(resolve, 500));
}
const replayRequests = gemini.stats().requests - firstRequests;

await Promise.all(services.map((s) => s.stop()));
await producer.disconnect();
await deleteTopics(admin, prefix);
await admin.disconnect();
await pool.end();
await Promise.all([gemini.close(), pinecone.close()]);
const dropper = createPool(adminUrl.replace(/\/[^/]*$/, '/postgres'));
await dropper.query(`drop database if exists docintel_bench_${suffix} with (force)`);
await dropper.end();
rmSync(work, { recursive: true, force: true });

const floor = Math.ceil(chunks / 100);
const rows: Array<[string, string]> = [
  ['corpus', `${DOCS} documents of ${TENANTS.length} tenants, ${chunks} chunks in ${batches} chunk messages`],
  ['first pass', `${firstRequests} embedding requests for ${firstTexts} texts (floor ${floor}: ${((firstRequests / floor - 1) * 100).toFixed(1)}% over), ${firstSeconds.toFixed(1)} s`],
  ['texts per request', (firstTexts / Math.max(1, firstRequests)).toFixed(1)],
  ['replay of the same versions', `${replayRequests} embedding requests`],
];
const width = Math.max(...rows.map(([label]) => label.length));
process.stdout.write(`\n${rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n')}\n`);
process.exit(0);
