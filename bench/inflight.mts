/**
 * `npm run build && node bench/inflight.mts`: what the in-flight record (crash-loop containment,
 * docs/design.md) costs per message. A stage consumer with a trivial handler reads the same
 * messages with and without the record in PostgreSQL, in three shapes: batches as large as the
 * default 1 MiB fetch makes them, batches of a 16 KiB fetch (messages produced 500 to a request),
 * and one message per batch (each produced on its own and fetched with a 1-byte partition limit),
 * the worst case, where the record's two statements per batch are two per message. Rates are
 * messages per second between the first and the last message handled, so the statements before
 * a partition's first batch and after its last one are not counted: with 1 MiB fetches, that is
 * most of them.
 * Options: --messages N (full batches; default 20000), --singles N (default 1000), --partitions N
 * (default 4), --concurrency N (default 1 and 16), --runs N (default 3, after one warm-up run each;
 * the median is reported).
 */
import { parseArgs } from 'node:util';
import { createConsumerMetrics, createLogger, createRegistry, quietKnownWarnings } from '@docintel/core';
import { ingestRequestSchema, topicNames, type IngestRequest } from '@docintel/contracts';
import { createPool, ensureDatabase, migrate } from '@docintel/db';
import { StageConsumer, createKafka, createProducer, deleteTopics, ensureTopics, loadKafkaConfig, type InFlightStore } from '@docintel/kafka';
import { createInFlightStore, documentOf } from '@docintel/service';
import pg from 'pg';

quietKnownWarnings();
const { values: args } = parseArgs({
  options: {
    messages: { type: 'string', default: '20000' },
    singles: { type: 'string', default: '1000' },
    partitions: { type: 'string', default: '4' },
    concurrency: { type: 'string', multiple: true },
    runs: { type: 'string', default: '3' },
  },
});
const messages = Number(args.messages);
const singles = Number(args.singles);
const partitions = Number(args.partitions);
const concurrencies = (args.concurrency ?? ['1', '16']).map(Number);
const runs = Number(args.runs);

const suffix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
const prefix = `bench-inflight-${suffix}.`;
const logger = createLogger({ service: 'bench', level: 'error' });
const config = loadKafkaConfig({ ...process.env, TOPIC_PREFIX: prefix }, 'bench-inflight');
const kafka = createKafka(config, logger);
const names = topicNames(prefix);
const adminUrl = process.env.TEST_DATABASE_ADMIN_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const databaseUrl = Object.assign(new URL(adminUrl), { pathname: `/docintel_bench_${suffix}` }).toString();

const admin = kafka.admin();
await admin.connect();
await ensureTopics(admin, { prefix, partitions, retryTiers: 1 });
await ensureDatabase(databaseUrl);
const pool = createPool(databaseUrl, { max: 10 });
await migrate(pool);
const producer = createProducer(kafka);
await producer.connect();

const value = (i: number) => JSON.stringify({ tenantId: `t${i % 50}`, documentId: `doc-${i}`, version: 1 });
const key = (i: number) => `t${i % 50}`;
// Topic per shape: full batches, then one record batch per message.
const fullTopic = names.ingest;
const singleTopic = names.chunks;
for (let start = 0; start < messages; start += 500) {
  const count = Math.min(500, messages - start);
  await producer.send({ topic: fullTopic, acks: -1, messages: Array.from({ length: count }, (_, j) => ({ key: key(start + j), value: value(start + j) })) });
}
for (let i = 0; i < singles; i++) await producer.send({ topic: singleTopic, acks: -1, messages: [{ key: key(i), value: value(i) }] });

/** Statements the store ran and their total time, to report the cost per batch. */
function counted(store: InFlightStore): InFlightStore & { calls: number; ms: number } {
  const tally = { calls: 0, ms: 0 };
  const time = async <T,>(work: () => Promise<T>): Promise<T> => {
    const started = performance.now();
    try {
      return await work();
    } finally {
      tally.calls += 1;
      tally.ms += performance.now() - started;
    }
  };
  return Object.assign(tally, {
    begin: (...a: Parameters<InFlightStore['begin']>) => time(() => store.begin(...a)),
    start: (...a: Parameters<InFlightStore['start']>) => time(() => store.start(...a)),
    finish: (...a: Parameters<InFlightStore['finish']>) => time(() => store.finish(...a)),
    end: (...a: Parameters<InFlightStore['end']>) => time(() => store.end(...a)),
  });
}

let run = 0;
async function measure(topic: string, total: number, concurrency: number, withRecord: boolean, maxBytesPerPartition?: number) {
  run += 1;
  const store = withRecord ? counted(createInFlightStore(pool)) : undefined;
  let handled = 0;
  let first = 0;
  let last = 0;
  let done: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (done = resolve));
  const consumer = new StageConsumer<IngestRequest>({
    kafka,
    producer,
    logger,
    metrics: createConsumerMetrics(createRegistry(`bench${run}`)),
    topic,
    groupId: `${prefix}run-${run}`,
    schema: ingestRequestSchema,
    retryDelaysMs: [],
    concurrency,
    orderingKey: documentOf,
    maxBytesPerPartition,
    ...(store ? { inFlight: store } : {}),
    handle: async () => {
      const now = performance.now();
      if (handled === 0) first = now;
      last = now;
      if (++handled === total) done();
    },
  });
  await consumer.start();
  await finished;
  await consumer.stop();
  const seconds = (last - first) / 1000;
  return { rate: (total - 1) / seconds, statements: store?.calls ?? 0, msPerStatement: store && store.calls > 0 ? store.ms / store.calls : 0 };
}

const rows: string[][] = [];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const [shape, topic, total, maxBytes] of [
  ['1 MiB fetches', fullTopic, messages, undefined],
  ['16 KiB fetches', fullTopic, messages, 16 * 1024],
  ['one message per batch', singleTopic, singles, 1],
] as const) {
  for (const concurrency of concurrencies) {
    const without: number[] = [];
    const withIt: Array<Awaited<ReturnType<typeof measure>>> = [];
    // Warm up (JIT, connections) with one run of each, not counted.
    await measure(topic, total, concurrency, false, maxBytes);
    await measure(topic, total, concurrency, true, maxBytes);
    for (let i = 0; i < runs; i++) {
      without.push((await measure(topic, total, concurrency, false, maxBytes)).rate);
      withIt.push(await measure(topic, total, concurrency, true, maxBytes));
    }
    const a = median(without);
    const b = median(withIt.map((r) => r.rate));
    const statements = withIt[0]!.statements;
    const msPerStatement = median(withIt.map((r) => r.msPerStatement));
    rows.push([
      shape,
      String(concurrency),
      String(total),
      a.toFixed(0),
      b.toFixed(0),
      `${(((a - b) / a) * 100).toFixed(1)}%`,
      `${((1e6 / b - 1e6 / a)).toFixed(1)}`,
      `${(total / (statements / 2)).toFixed(0)}`,
      msPerStatement.toFixed(2),
    ]);
  }
}

const header = ['shape', 'concurrency', 'messages', 'msg/s without', 'msg/s with', 'slower by', 'µs per message', 'messages per batch', 'ms per statement'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
for (const line of [header, ...rows]) console.log(line.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));

await producer.disconnect();
await deleteTopics(admin, prefix, 1);
await admin.disconnect();
await pool.end();
const maintenance = new pg.Client({ connectionString: adminUrl });
await maintenance.connect();
await maintenance.query(`drop database if exists ${pg.escapeIdentifier(`docintel_bench_${suffix}`)} with (force)`);
await maintenance.end();
