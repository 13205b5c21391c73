import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HEADERS, dlqTopic, retryTopic, topicNames } from '@docintel/contracts';
import { ROOT, SERVICE_NAMES, spawnService, type ServiceProcess } from '@docintel/cli';
import { upsertDocument } from '@docintel/db';
import { createProducer } from '@docintel/kafka';
import { createTestDatabase, createTestTopics, eventually, isReady, readTopic, uniqueSuffix, type TestDatabase, type TestTopics } from '@docintel/testing';
import type { Producer } from 'kafkajs';

/**
 * A tenant's application that produces its message a moment before its transaction commits: the
 * message names a row that is not there yet. fetch retries it through the tiers
 * (DOCUMENT_NOT_FOUND is retriable), so it completes once the row comes; only a row that never
 * comes ends in the DLQ, after the last tier. The four services run as processes of their own,
 * from their build, with retry delays of 1, 2 and 4 s.
 */
describe('a message produced before its row is committed (real broker, PostgreSQL and services)', () => {
  const tenant = `l${uniqueSuffix().slice(-6)}`;
  let topics: TestTopics;
  let names: ReturnType<typeof topicNames>;
  let database: TestDatabase;
  let producer: Producer;
  let dir: string;
  let services: ServiceProcess[] = [];

  beforeAll(async () => {
    execFileSync(path.join(ROOT, 'node_modules', '.bin', 'tsc'), ['-b', ...SERVICE_NAMES.map((name) => `services/${name}`)], { cwd: ROOT, stdio: 'inherit' });
    [topics, database, dir] = await Promise.all([createTestTopics({ partitions: 2 }), createTestDatabase(), mkdtemp(path.join(os.tmpdir(), 'docintel-late-row-'))]);
    names = topicNames(topics.prefix);
    producer = createProducer(topics.kafka);
    await producer.connect();
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      TOPIC_PREFIX: topics.prefix,
      DATABASE_URL: database.url,
      HTTP_PORT: '0',
      LOG_LEVEL: 'info',
      RETRY_DELAYS_MS: '1000,2000,4000',
      LANCEDB_DIR: path.join(dir, 'lancedb'),
    };
    services = await Promise.all(SERVICE_NAMES.map((name) => spawnService(name, { env, logFile: path.join(dir, 'logs', `${name}.log`) })));
    await eventually(async () => (await Promise.all(services.map((s) => isReady(s.httpPort)))).every(Boolean), { timeoutMs: 60_000, description: 'services ready' });
  }, 300_000);

  afterAll(async () => {
    await Promise.allSettled(services.map((service) => service.stop(10_000)));
    await producer?.disconnect();
    await Promise.allSettled([topics?.cleanup(), database?.drop()]);
    if (dir && process.env.KEEP_TEST_DIR === undefined) await rm(dir, { recursive: true, force: true });
  });

  const send = (documentId: string) =>
    producer.send({
      topic: names.ingest,
      acks: -1,
      messages: [{ key: tenant, value: JSON.stringify({ tenantId: tenant, documentId, version: 1, op: 'upsert' }), headers: { [HEADERS.tenantId]: tenant, [HEADERS.schemaVersion]: '1' } }],
    });
  const named = (documentId: string) => (m: { value: string }) => m.value.includes(`"${documentId}"`);
  const state = async (documentId: string) =>
    (await database.pool.query<{ state: string }>('select state from document_status where tenant_id = $1 and document_id = $2 and version = 1', [tenant, documentId])).rows[0]?.state;

  it('completes a message produced 2 s before its row is inserted, without a dead letter', async () => {
    const documentId = `${tenant}-late`;
    await send(documentId);
    const sent = Date.now();
    // The first read fails (no row): the copy waits in the first retry tier. The row comes 2 s after the message.
    const copy = await eventually(async () => (await readTopic(topics.kafka, retryTopic(names.ingest, 1))).find(named(documentId)), {
      timeoutMs: 30_000,
      description: 'the message in the first retry tier',
    });
    expect(copy.headers[HEADERS.errorCode]).toBe('DOCUMENT_NOT_FOUND');
    expect(copy.headers[HEADERS.attempt]).toBe('1');
    await eventually(() => Date.now() - sent >= 2_000, { timeoutMs: 10_000, description: '2 s since the message' });
    await upsertDocument(database.pool, {
      id: documentId,
      tenantId: tenant,
      source: path.join(dir, 'late.md'),
      mimeType: 'text/markdown',
      content: Buffer.from('# Late\n\nThis document was committed two seconds after its message was produced.'),
    });
    await eventually(async () => (await state(documentId)) === 'completed', { timeoutMs: 60_000, description: 'the late document completed' });
    expect((await readTopic(topics.kafka, dlqTopic(names.ingest))).filter(named(documentId))).toEqual([]);
  }, 120_000);

  it('dead-letters a message whose row never comes after the last tier, with DOCUMENT_NOT_FOUND', async () => {
    const documentId = `${tenant}-never`;
    await send(documentId);
    const dead = await eventually(async () => (await readTopic(topics.kafka, dlqTopic(names.ingest))).find(named(documentId)), {
      timeoutMs: 60_000,
      description: 'the message in the DLQ',
    });
    expect(dead.headers).toMatchObject({
      [HEADERS.errorCode]: 'DOCUMENT_NOT_FOUND',
      [HEADERS.errorMessage]: `document "${documentId}" does not exist`,
      [HEADERS.errorRetriable]: 'true',
      [HEADERS.attempt]: '3',
    });
    // docintel status shows the version failed, and why.
    await eventually(async () => (await state(documentId)) === 'failed', { timeoutMs: 30_000, description: 'the failed status' });
    const row = await database.pool.query('select error_code, error_stage from document_status where tenant_id = $1 and document_id = $2', [tenant, documentId]);
    expect(row.rows).toEqual([{ error_code: 'DOCUMENT_NOT_FOUND', error_stage: 'fetch' }]);
  }, 120_000);
});
