/**
 * `npm run bench`: the pipeline on the embedded defaults against a fixed, seeded corpus, on the
 * local broker and PostgreSQL, with the four services as separate processes. Prints a table and
 * writes it as JSON under bench/results/. Options: --docs, --tenants, --partitions, --min-kb,
 * --max-kb, --replicas fetch=N,embed=N,status=N (store stays at 1 with LanceDB: one writer per table),
 * --providers emulated (the Gemini and Pinecone adapters against their local emulators).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, SERVICE_NAMES, spawnService, type ServiceName, type ServiceProcess } from '@docintel/cli';
import { createLogger, quietKnownWarnings, seededRandom } from '@docintel/core';
import { topicNames } from '@docintel/contracts';
import { createPool, ensureDatabase, migrate, upsertDocument } from '@docintel/db';
import { createKafka, createProducer, deleteTopics, ensureTopics, loadKafkaConfig, scanTopic, sendAll, withStandardHeaders } from '@docintel/kafka';
import { startGeminiEmulator, startPineconeEmulator } from '@docintel/emulators';
import { scrapeMetric } from '@docintel/testing';
import { brokerCeiling, type Ceiling } from './ceiling.mts';

quietKnownWarnings();
const { values } = parseArgs({
  options: {
    docs: { type: 'string', default: '5000' },
    tenants: { type: 'string', default: '10' },
    partitions: { type: 'string', default: '12' },
    'min-kb': { type: 'string', default: '1' },
    'max-kb': { type: 'string', default: '200' },
    replicas: { type: 'string', default: '' },
    'no-ceiling': { type: 'boolean', default: false },
    providers: { type: 'string', default: 'embedded' },
  },
});
if (values.providers !== 'embedded' && values.providers !== 'emulated') throw new Error(`--providers: embedded or emulated, got "${values.providers}"`);
const DOCS = Number(values.docs);
const TENANTS = Array.from({ length: Number(values.tenants) }, (_, i) => `bench${i}`);
const PARTITIONS = Number(values.partitions);
const replicas: Record<ServiceName, number> = { fetch: 1, embed: 1, store: 1, status: 1 };
for (const part of values.replicas.split(',').filter(Boolean)) {
  const [name, count] = part.split('=');
  if (!SERVICE_NAMES.includes(name as ServiceName) || !/^\d+$/.test(count ?? '')) throw new Error(`--replicas: expected name=N, got "${part}"`);
  replicas[name as ServiceName] = Number(count);
}
if (replicas.store > 1 && values.providers !== 'emulated') throw new Error('--replicas: store stays at 1 on LanceDB (one writer per table)');

const WORDS = 'account adapter archive audit balance batch billing branch buffer cache capacity catalog channel client cluster commit config contract cursor dataset deploy digest domain engine event export feature filter gateway graph handler index invoice journal kernel ledger limit listener manifest metric module monitor network offset order packet parser payload pipeline policy portal profile quota record region release replica report request resource router schedule schema search segment server session signal snapshot source storage stream summary table template tenant ticket token topic trace'.split(' ');


/** The same documents on every run: sizes log-uniform between --min-kb and --max-kb. */
function* corpus(): Generator<{ tenant: string; source: string; content: Buffer }> {
  const next = seededRandom(7);
  const [min, max] = [Number(values['min-kb']) * 1024, Number(values['max-kb']) * 1024];
  for (let i = 0; i < DOCS; i++) {
    const target = Math.round(Math.exp(Math.log(min) + next() * (Math.log(max) - Math.log(min))));
    const parts = [`# Document ${i}\n\n`];
    let size = parts[0]!.length;
    while (size < target) {
      const words = Array.from({ length: 80 }, () => WORDS[Math.floor(next() * WORDS.length)]!);
      const paragraph = `${words.join(' ')}.\n\n`;
      parts.push(paragraph);
      size += paragraph.length;
    }
    yield { tenant: TENANTS[i % TENANTS.length]!, source: `bench/${i}.md`, content: Buffer.from(parts.join('').slice(0, target)) };
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Peak resident set of a process (VmHWM), in MiB. */
function peakRssMiB(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Math.round(Number(match[1]) / 1024) : 0;
}

const suffix = Date.now().toString(36);
const prefix = `bench-${suffix}.`;
const logger = createLogger({ service: 'bench', level: 'error', stderr: true });
const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/docintel';
const databaseUrl = adminUrl.replace(/\/[^/]*$/, `/docintel_bench_${suffix}`);
const work = mkdtempSync(path.join(os.tmpdir(), 'docintel-bench-'));
const emulators = values.providers === 'emulated' ? await Promise.all([startGeminiEmulator({ apiKey: 'bench-key' }), startPineconeEmulator({ apiKey: 'bench-key', dimension: 768 })]) : [];
const providerEnv: NodeJS.ProcessEnv = emulators.length
  ? { EMBEDDING_PROVIDER: 'gemini', GEMINI_API_KEY: 'bench-key', GEMINI_BASE_URL: emulators[0].url, VECTOR_STORE: 'pinecone', PINECONE_API_KEY: 'bench-key', PINECONE_INDEX_HOST: emulators[1].url }
  : { LANCEDB_DIR: path.join(work, 'lancedb') };
const env: NodeJS.ProcessEnv = { ...process.env, ...providerEnv, TOPIC_PREFIX: prefix, DATABASE_URL: databaseUrl, HTTP_PORT: '0', LOG_LEVEL: 'info' };
const say = (line: string) => process.stderr.write(`bench: ${line}\n`);

const started = Date.now();
if (!process.env.KAFKA_BROKERS) execFileSync('bash', [path.join(ROOT, 'deploy', 'kafka', 'start.sh')], { stdio: ['ignore', 'ignore', 'inherit'] });
await ensureDatabase(databaseUrl);
const pool = createPool(databaseUrl, { max: 8 });
await migrate(pool);
const kafka = createKafka(loadKafkaConfig(env, 'bench'), logger);
const admin = kafka.admin();
await admin.connect();
await ensureTopics(admin, { prefix, partitions: PARTITIONS });
const topics = topicNames(prefix);

say(`writing ${DOCS} documents of ${TENANTS.length} tenants to PostgreSQL`);
const documents: Array<{ tenantId: string; documentId: string; version: number; bytes: number }> = [];
let batch: Array<Promise<void>> = [];
for (const doc of corpus()) {
  batch.push(
    upsertDocument(pool, { tenantId: doc.tenant, source: doc.source, mimeType: 'text/markdown', content: doc.content }).then((result) => {
      documents.push({ tenantId: doc.tenant, documentId: result.id, version: result.version, bytes: doc.content.byteLength });
    }),
  );
  if (batch.length === 16) {
    await Promise.all(batch);
    batch = [];
  }
}
await Promise.all(batch);
const totalBytes = documents.reduce((sum, d) => sum + d.bytes, 0);

say(`starting services (${SERVICE_NAMES.map((n) => `${n} x${replicas[n]}`).join(', ')})`);
const processes: ServiceProcess[] = [];
for (const name of SERVICE_NAMES) {
  for (let i = 0; i < replicas[name]; i++) processes.push(await spawnService(name, { env, logFile: path.join(work, 'logs', `${name}-${i}.log`) }));
}
const portOf = (name: ServiceName) => processes.filter((p) => p.name === name).map((p) => p.httpPort);
const sumMetric = async (name: ServiceName, metric: string, labels: Record<string, string> = {}) =>
  (await Promise.all(portOf(name).map((port) => scrapeMetric(port, metric, labels)))).reduce((a, b) => a + b, 0);

// Lag of each stage's consumer group on its input topic, sampled every second: the stage whose
// backlog is largest is the one that limits the run.
const stages: Array<{ name: ServiceName; topic: string; group: string }> = [
  { name: 'fetch', topic: topics.ingest, group: `${prefix}docintel-fetch` },
  { name: 'embed', topic: topics.chunks, group: `${prefix}docintel-embed` },
  { name: 'store', topic: topics.vectors, group: `${prefix}docintel-store` },
  { name: 'status', topic: topics.status, group: `${prefix}docintel-status` },
];
const lagSamples: Record<string, number[]> = { fetch: [], embed: [], store: [], status: [] };
async function sampleLag(): Promise<void> {
  for (const stage of stages) {
    const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(stage.topic), admin.fetchOffsets({ groupId: stage.group, topics: [stage.topic] })]);
    const done = new Map(committed[0]!.partitions.map((p) => [p.partition, BigInt(p.offset === '-1' ? '0' : p.offset)]));
    const lag = ends.reduce((sum, p) => sum + Number(BigInt(p.high) - (done.get(p.partition) ?? 0n)), 0);
    lagSamples[stage.name]!.push(lag);
  }
}

say('producing the ingest messages');
const producer = createProducer(kafka);
await producer.connect();
const produceStarted = Date.now();
await sendAll(
  producer,
  documents.map((d) => ({ topic: topics.ingest, message: withStandardHeaders({ topic: topics.ingest, key: d.tenantId, value: { tenantId: d.tenantId, documentId: d.documentId, version: d.version } }, `bench-${d.documentId}`) })),
);
const producedAt = Date.now();

let completed = 0;
let lastReport = 0;
while (completed < documents.length) {
  const result = await pool.query<{ state: string; n: string }>("select state, count(*) as n from document_status group by state");
  const byState = Object.fromEntries(result.rows.map((r) => [r.state, Number(r.n)]));
  completed = byState.completed ?? 0;
  if ((byState.failed ?? 0) > 0) throw new Error(`${byState.failed} documents failed; see ${work}/logs`);
  await sampleLag();
  if (Date.now() - lastReport > 5_000) {
    say(`${completed}/${documents.length} completed after ${((Date.now() - produceStarted) / 1000).toFixed(0)} s`);
    lastReport = Date.now();
  }
  if (Date.now() - produceStarted > 15 * 60_000) throw new Error('the run took longer than 15 minutes');
  if (completed < documents.length) await new Promise((resolve) => setTimeout(resolve, 1_000));
}
const finished = await pool.query<{ first: Date; last: Date; chunks: string }>(
  "select min(updated_at) as first, max(updated_at) as last, sum(total_chunks) as chunks from document_status where state = 'completed'",
);
const endAt = finished.rows[0]!.last.getTime();
const seconds = (endAt - produceStarted) / 1000;
const chunks = Number(finished.rows[0]!.chunks);
const latencies = (await pool.query<{ ms: number }>("select extract(epoch from updated_at) * 1000 as ms from document_status where state = 'completed'")).rows
  .map((r) => Number(r.ms) - produceStarted)
  .sort((a, b) => a - b);

const embedRequests = await sumMetric('embed', 'docintel_embedding_requests_total');
const storeRequests = await sumMetric('store', 'docintel_vector_store_requests_total');
const handled = Object.fromEntries(await Promise.all(SERVICE_NAMES.map(async (n) => [n, await sumMetric(n, 'docintel_messages_total', { outcome: 'ok' })] as const)));
const rss = Object.fromEntries(SERVICE_NAMES.map((n) => [n, Math.max(...processes.filter((p) => p.name === n).map((p) => peakRssMiB(p.pid)))]));
const meanLag = Object.fromEntries(stages.map((s) => [s.name, Math.round(lagSamples[s.name]!.reduce((a, b) => a + b, 0) / Math.max(1, lagSamples[s.name]!.length))]));
const limiting = stages.reduce((worst, s) => (meanLag[s.name]! > meanLag[worst.name]! ? s : worst), stages[0]!).name;

await Promise.all(processes.map((p) => p.stop()));
await producer.disconnect();

/** Mean value size of a topic's messages, read back from the broker. */
async function meanMessageBytes(topic: string): Promise<number> {
  let bytes = 0;
  let count = 0;
  await scanTopic(kafka, topic, {
    onMessage: (message) => {
      bytes += message.value?.byteLength ?? 0;
      count += 1;
    },
  });
  return count === 0 ? 0 : Math.round(bytes / count);
}

const ceilings: Array<{ topic: string; meanBytes: number; pipelinePerSecond: number; ceiling: Ceiling }> = [];
if (!values['no-ceiling']) {
  say('measuring the broker ceiling for the chunk and vector messages (ProducerPerformance, ConsumerPerformance)');
  for (const [topic, name] of [[topics.chunks, 'embed'], [topics.vectors, 'store']] as const) {
    const meanBytes = await meanMessageBytes(topic);
    const ceiling = await brokerCeiling({ prefix, recordBytes: meanBytes, records: Math.min(20_000, Math.max(2_000, Math.round((400 * 2 ** 20) / meanBytes))), partitions: PARTITIONS, admin });
    ceilings.push({ topic, meanBytes, pipelinePerSecond: (handled[name] ?? 0) / seconds, ceiling });
  }
}
await Promise.all(emulators.map((emulator) => emulator.close()));
await deleteTopics(admin, prefix);
await admin.disconnect();
await pool.end();
const dropper = createPool(adminUrl.replace(/\/[^/]*$/, '/postgres'));
await dropper.query(`drop database if exists docintel_bench_${suffix} with (force)`);
await dropper.end();
rmSync(work, { recursive: true, force: true });

const chunkMessages = handled.embed ?? 0;
const result = {
  at: new Date().toISOString(),
  machine: { cpus: os.cpus().length, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
  options: { providers: values.providers, docs: DOCS, tenants: TENANTS.length, partitions: PARTITIONS, replicas, minKiB: Number(values['min-kb']), maxKiB: Number(values['max-kb']) },
  corpus: { documents: documents.length, megabytes: +(totalBytes / 2 ** 20).toFixed(1), chunks },
  endToEnd: {
    seconds: +seconds.toFixed(1),
    documentsPerSecond: +(documents.length / seconds).toFixed(1),
    chunksPerSecond: Math.round(chunks / seconds),
    produceSeconds: +((producedAt - produceStarted) / 1000).toFixed(2),
    latencyMs: { p50: Math.round(percentile(latencies, 50)), p95: Math.round(percentile(latencies, 95)), p99: Math.round(percentile(latencies, 99)) },
  },
  stages: Object.fromEntries(
    stages.map((s) => [s.name, { messages: handled[s.name], messagesPerSecond: Math.round((handled[s.name] ?? 0) / seconds), meanLag: meanLag[s.name], peakRssMiB: rss[s.name] }]),
  ),
  limitingStage: limiting,
  embeddingRequestsPer1000Chunks: +((embedRequests / chunks) * 1000).toFixed(2),
  vectorStoreRequestsPer1000Vectors: +((storeRequests / chunks) * 1000).toFixed(2),
  chunkMessages,
  brokerCeiling: ceilings.map((c) => ({
    topic: c.topic.slice(prefix.length),
    meanMessageBytes: c.meanBytes,
    ...c.ceiling,
    pipelineMessagesPerSecond: +c.pipelinePerSecond.toFixed(1),
    shareOfProducerCeilingPercent: +((c.pipelinePerSecond / c.ceiling.producerRecordsPerSecond) * 100).toFixed(2),
  })),
  totalSeconds: Math.round((Date.now() - started) / 1000),
};

const rows: Array<[string, string]> = [
  ['corpus', `${result.corpus.documents} documents of ${TENANTS.length} tenants, ${result.corpus.megabytes} MB, ${chunks} chunks (${values.providers} providers)`],
  ['end to end', `${result.endToEnd.documentsPerSecond} documents/s, ${result.endToEnd.chunksPerSecond} chunks/s (${result.endToEnd.seconds} s)`],
  ['latency produce -> completed', `p50 ${result.endToEnd.latencyMs.p50} ms, p95 ${result.endToEnd.latencyMs.p95} ms, p99 ${result.endToEnd.latencyMs.p99} ms`],
  ...stages.map((s): [string, string] => [
    `stage ${s.name}`,
    `${result.stages[s.name]!.messages} messages, ${result.stages[s.name]!.messagesPerSecond}/s, mean lag ${meanLag[s.name]}, peak RSS ${rss[s.name]} MiB`,
  ]),
  ['limiting stage', `${limiting} (largest mean backlog)`],
  ['embedding requests / 1000 chunks', String(result.embeddingRequestsPer1000Chunks)],
  ['vector store requests / 1000 vectors', String(result.vectorStoreRequestsPer1000Vectors)],
];
for (const c of result.brokerCeiling) {
  rows.push([
    `broker ceiling, ${c.topic}`,
    `${c.meanMessageBytes} B messages: produce ${c.producerRecordsPerSecond}/s (${c.producerMBps} MB/s), consume ${c.consumerRecordsPerSecond}/s (${c.consumerMBps} MB/s); the pipeline ran ${c.pipelineMessagesPerSecond}/s = ${c.shareOfProducerCeilingPercent}% of it`,
  ]);
}
const width = Math.max(...rows.map(([label]) => label.length));
process.stdout.write(`\n${rows.map(([label, value]) => `${label.padEnd(width)}  ${value}`).join('\n')}\n`);
const out = path.join(ROOT, 'bench', 'results', `bench-${result.at.replace(/[:.]/g, '-')}.json`);
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
process.stdout.write(`\nwritten to ${path.relative(process.cwd(), out)} (${result.totalSeconds} s in all)\n`);
process.exit(0);
