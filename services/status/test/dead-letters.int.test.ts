import { execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { createConsumerMetrics, createRegistry } from '@docintel/core';
import { HEADERS, dlqTopic, ingestRequestSchema, topicNames, type IngestRequest } from '@docintel/contracts';
import { ROOT, spawnService, type ServiceProcess } from '@docintel/cli';
import { StageConsumer, createProducer } from '@docintel/kafka';
import { createInFlightStore, documentOf, failedStatusOnDeadLetter } from '@docintel/service';
import {
  createTestDatabase,
  createTestTopics,
  eventually,
  readTopic,
  scrapeMetric,
  testLogger,
  type TestDatabase,
  type TestTopics,
} from '@docintel/testing';
import type { Producer } from 'kafkajs';

/**
 * Dead letters that end as a document's `failed` status, with real services: a message that kills
 * its consumer's process (a crash loop, POISON_CRASH), and messages that fail validation but name
 * a document of their tenant. The status service runs from its build, which beforeAll brings up
 * to date (as does the crash consumer's process, which runs on the built packages).
 */
describe('failed statuses from dead letters (real broker, PostgreSQL and status service)', () => {
  let topics: TestTopics;
  let database: TestDatabase;
  let producer: Producer;
  let status: ServiceProcess | undefined;

  beforeAll(() => {
    execFileSync(path.join(ROOT, 'node_modules', '.bin', 'tsc'), ['-b', 'services/status'], { cwd: ROOT, stdio: 'inherit' });
  }, 240_000);

  beforeEach(async () => {
    [topics, database] = await Promise.all([createTestTopics({ partitions: 1, retryTiers: 1 }), createTestDatabase()]);
    producer = createProducer(topics.kafka);
    await producer.connect();
    status = await spawnService('status', {
      env: { ...process.env, TOPIC_PREFIX: topics.prefix, DATABASE_URL: database.url, HTTP_PORT: '0', LOG_LEVEL: 'info', RETRY_DELAYS_MS: '200' },
    });
  });

  afterEach(async () => {
    await status?.stop(10_000);
    status = undefined;
    await producer.disconnect();
    await Promise.all([topics.cleanup(), database.drop()]);
  });

  const addDocument = (id: string, tenantId: string, version = 1) =>
    database.pool.query(`insert into documents (id, tenant_id, mime_type, version, content, content_sha256) values ($1, $2, 'text/plain', $3, 'x', 'h')`, [
      id,
      tenantId,
      version,
    ]);

  interface StatusRow {
    tenant_id: string;
    document_id: string;
    version: number;
    state: string;
    error_code: string | null;
    error_message: string | null;
    error_stage: string | null;
  }
  const statusRows = async (): Promise<StatusRow[]> =>
    (
      await database.pool.query<StatusRow>(
        'select tenant_id, document_id, version, state, error_code, error_message, error_stage from document_status order by document_id, version',
      )
    ).rows;

  describe('a message that kills its consumer', () => {
    const children = new Set<ReturnType<typeof spawn>>();

    afterEach(async () => {
      await Promise.all(
        [...children].map(async (child) => {
          if (child.exitCode === null && child.signalCode === null) {
            const exited = new Promise((resolve) => child.once('exit', resolve));
            child.kill('SIGKILL');
            await exited;
          }
        }),
      );
      children.clear();
    });

    /** One life of the crash consumer: resolves with how it ended and what it printed. */
    function life(env: NodeJS.ProcessEnv) {
      const child = spawn(process.execPath, ['--disable-warning=MODULE_TYPELESS_PACKAGE_JSON', path.join(__dirname, 'fixtures', 'crash-consumer.mts')], {
        cwd: ROOT,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.add(child);
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
      return { child, ended, output: () => output };
    }

    it('is dead-lettered as POISON_CRASH on the start after its second kill, and the messages after it are handled', async () => {
      const names = topicNames(topics.prefix);
      const env = {
        ...process.env,
        TOPIC_PREFIX: topics.prefix,
        DATABASE_URL: database.url,
        CONSUMER_GROUP: `${topics.prefix}crash`,
        CRASH_DOCUMENT: 'boom',
        LOG_LEVEL: 'error',
      };
      // One partition, one produce request: the four messages are one batch, at offsets 0 to 3.
      await producer.send({
        topic: names.ingest,
        messages: ['d0', 'boom', 'd2', 'd3'].map((id) => ({ key: 'acme', value: JSON.stringify({ tenantId: 'acme', documentId: id, version: 1 }) })),
      });

      const deadline = { timeoutMs: 60_000 };
      const first = life({ ...env, CRASH_MODE: 'exit' });
      expect(await first.ended).toEqual({ code: 70, signal: null });
      expect(first.output()).toContain('crashing on 1');
      const second = life({ ...env, CRASH_MODE: 'abort' });
      expect(await second.ended).toEqual({ code: null, signal: 'SIGABRT' });
      expect(second.output()).toContain('crashing on 1');

      const third = life({ ...env, CRASH_MODE: 'abort' });
      const dead = await eventually(async () => {
        const read = await readTopic(topics.kafka, dlqTopic(names.ingest));
        return read.length === 1 ? read[0] : undefined;
      }, { ...deadline, description: 'the message that killed two lives dead-lettered' });
      expect(JSON.parse(dead.value)).toMatchObject({ documentId: 'boom' });
      expect(dead.headers).toMatchObject({
        [HEADERS.errorCode]: 'POISON_CRASH',
        [HEADERS.errorRetriable]: 'false',
        [HEADERS.errorClass]: 'PermanentError',
        [HEADERS.originalOffset]: '1',
        [HEADERS.originalGroup]: `${topics.prefix}crash`,
      });
      expect(dead.headers[HEADERS.errorMessage]).toMatch(/process died 2 times with this message in flight/);

      // The third life handled every other message of the batch (the first two sent nothing).
      const handled = await eventually(async () => {
        const read = await readTopic(topics.kafka, names.chunks);
        return read.length >= 3 ? read.map((m) => JSON.parse(m.value) as { handled: string; pid: number }) : undefined;
      }, { ...deadline, description: 'the messages after it handled' });
      expect(handled.map((m) => m.handled)).toEqual(['d0', 'd2', 'd3']);
      expect(new Set(handled.map((m) => m.pid))).toEqual(new Set([third.child.pid]));
      expect(third.output()).not.toContain('crashing');

      const rows = await eventually(async () => {
        const found = await statusRows();
        return found.length === 1 && found[0]!.state === 'failed' ? found : undefined;
      }, { ...deadline, description: 'the failed status of the document' });
      expect(rows[0]).toMatchObject({ tenant_id: 'acme', document_id: 'boom', version: 1, error_code: 'POISON_CRASH', error_stage: 'fetch' });
      await eventually(async () => (await database.pool.query('select 1 from consumer_inflight')).rowCount === 0, {
        ...deadline,
        description: 'no record left in flight',
      });

      third.child.kill('SIGTERM');
      expect(await third.ended).toEqual({ code: 0, signal: null });
    });
  });

  describe('a message that fails validation', () => {
    let stage: StageConsumer<IngestRequest> | undefined;

    afterEach(async () => {
      await stage?.stop();
      stage = undefined;
    });

    it('gives its own document a failed status naming the field, and writes nothing for another tenant document', async () => {
      const names = topicNames(topics.prefix);
      await addDocument('acme-doc', 'acme');
      await addDocument('acme-old', 'acme', 4);
      await addDocument('globex-doc', 'globex');
      const handled: string[] = [];
      stage = new StageConsumer<IngestRequest>({
        kafka: topics.kafka,
        producer,
        logger: testLogger(),
        metrics: createConsumerMetrics(createRegistry('test')),
        topic: names.ingest,
        groupId: `${topics.prefix}fetch`,
        schema: ingestRequestSchema,
        retryDelaysMs: [200],
        inFlight: createInFlightStore(database.pool),
        orderingKey: documentOf,
        handle: async (message) => {
          handled.push(message.value.documentId);
        },
        onDeadLetter: failedStatusOnDeadLetter(names.status, 'fetch'),
      });
      await stage.start();
      const message = (value: Record<string, unknown>) => ({ key: 'acme', value: JSON.stringify({ tenantId: 'acme', ...value }), headers: { [HEADERS.tenantId]: 'acme' } });
      await producer.send({
        topic: names.ingest,
        messages: [
          // Names globex's document under acme: a claim the status service must not believe.
          message({ documentId: 'globex-doc', version: 1, chunking: { size: 1 } }),
          // Names a document that does not exist.
          message({ documentId: 'nobody', version: 1, chunking: { size: 1 } }),
          message({ documentId: 'acme-doc', version: 1, chunking: { size: 100, overlap: 100 } }),
          // The version itself is out of range: the failure goes to the version of the document row.
          message({ documentId: 'acme-old', version: 2 ** 31 }),
        ],
      });

      const dead = await eventually(async () => {
        const read = await readTopic(topics.kafka, dlqTopic(names.ingest));
        return read.length === 4 ? read : undefined;
      }, { description: 'four dead letters' });
      expect(dead.map((m) => m.headers[HEADERS.errorCode])).toEqual(['SCHEMA_INVALID', 'SCHEMA_INVALID', 'SCHEMA_INVALID', 'SCHEMA_INVALID']);
      expect(dead.every((m) => m.headers[HEADERS.attempt] === undefined)).toBe(true);
      expect(handled).toEqual([]);

      // The status service has read all four failed events before the rows are checked.
      await eventually(async () => (await scrapeMetric(status!.httpPort, 'docintel_messages_total', { outcome: 'ok' })) === 4, {
        description: 'four status events applied',
      });
      expect(await statusRows()).toEqual([
        {
          tenant_id: 'acme',
          document_id: 'acme-doc',
          version: 1,
          state: 'failed',
          error_code: 'SCHEMA_INVALID',
          error_message: 'value does not match its schema: chunking.overlap: must be smaller than chunking.size',
          error_stage: 'fetch',
        },
        {
          tenant_id: 'acme',
          document_id: 'acme-old',
          version: 4,
          state: 'failed',
          error_code: 'SCHEMA_INVALID',
          error_message: 'value does not match its schema: version: must be at most 2147483647 (what the database stores)',
          error_stage: 'fetch',
        },
      ]);
    });
  });
});
