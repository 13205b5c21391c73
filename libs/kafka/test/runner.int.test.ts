import { PermanentError, TransientError, createConsumerMetrics, createRegistry } from '@docintel/core';
import { HEADERS, dlqTopic, ingestRequestSchema, topicNames, type IngestRequest } from '@docintel/contracts';
import { StageConsumer, createProducer, type ConsumedMessage } from '@docintel/kafka';
import { createTestTopics, eventually, readTopic, testLogger, type TestTopics } from '@docintel/testing';
import type { Producer } from 'kafkajs';

describe('StageConsumer against a real broker', () => {
  let topics: TestTopics;
  let producer: Producer;
  let stage: StageConsumer<IngestRequest> | undefined;

  beforeEach(async () => {
    topics = await createTestTopics({ partitions: 3, retryTiers: 2 });
    producer = createProducer(topics.kafka);
    await producer.connect();
  });

  afterEach(async () => {
    await stage?.stop();
    await producer.disconnect();
    await topics.cleanup();
  });

  it('passes good messages on, retries transient failures after their delay, and dead-letters the rest', async () => {
    const names = topicNames(topics.prefix);
    const seen: Array<{ id: string; attempt: number; at: number; dueAt: number }> = [];
    const delays = [300, 600];
    stage = new StageConsumer<IngestRequest>({
      kafka: topics.kafka,
      producer,
      logger: testLogger(),
      metrics: createConsumerMetrics(createRegistry('test')),
      topic: names.ingest,
      groupId: `${topics.prefix}runner`,
      schema: ingestRequestSchema,
      retryDelaysMs: delays,
      handle: async (message: ConsumedMessage<IngestRequest>, context) => {
        const id = message.value.documentId;
        seen.push({ id, attempt: message.attempt, at: Date.now(), dueAt: Number(message.headers[HEADERS.retryDueAt] ?? 0) });
        if (id.startsWith('bad')) throw new PermanentError('DOCUMENT_NOT_FOUND', `no document ${id}`);
        if (id.startsWith('always')) throw new TransientError('DATABASE_UNAVAILABLE', 'database is down');
        if (id.startsWith('flaky') && message.attempt === 0) throw new TransientError('DATABASE_UNAVAILABLE', 'database blinked');
        context.emit({ topic: names.status, key: message.value.tenantId, value: { done: id, attempt: message.attempt } });
      },
    });
    await stage.start();
    await eventually(() => stage!.isReady(), { description: 'consumer ready' });

    const send = (id: string, tenant = 'acme') =>
      ({ key: tenant, value: JSON.stringify({ tenantId: tenant, documentId: id, version: 1 }), headers: { [HEADERS.traceId]: `trace-${id}` } });
    await producer.send({
      topic: names.ingest,
      messages: [send('ok-1'), send('flaky-1'), send('bad-1'), send('always-1'), send('ok-2', 'globex'), { key: 'acme', value: '{oops' }],
    });

    const outputs = await eventually(async () => {
      const read = await readTopic(topics.kafka, names.status);
      return read.length === 3 ? read : undefined;
    }, { description: 'three outputs' });
    expect(outputs.map((m) => (JSON.parse(m.value) as { done: string }).done).sort()).toEqual(['flaky-1', 'ok-1', 'ok-2']);
    const flakyOut = outputs.find((m) => m.value.includes('flaky-1'))!;
    expect(flakyOut.headers[HEADERS.traceId]).toBe('trace-flaky-1');
    expect(flakyOut.headers[HEADERS.tenantId]).toBe('acme');
    expect(flakyOut.headers[HEADERS.schemaVersion]).toBe('1');

    const dead = await eventually(async () => {
      const read = await readTopic(topics.kafka, dlqTopic(names.ingest));
      return read.length === 3 ? read : undefined;
    }, { description: 'three dead letters' });
    const byCode = Object.fromEntries(dead.map((m) => [m.headers[HEADERS.errorCode] ?? '', m]));
    expect(Object.keys(byCode).sort()).toEqual(['DATABASE_UNAVAILABLE', 'DOCUMENT_NOT_FOUND', 'INVALID_JSON']);
    const always = byCode.DATABASE_UNAVAILABLE!;
    expect(always.headers[HEADERS.attempt]).toBe('2');
    expect(always.headers[HEADERS.originalTopic]).toBe(names.ingest);
    expect(always.headers[HEADERS.errorRetriable]).toBe('true');
    expect(always.headers[HEADERS.traceId]).toBe('trace-always-1');
    expect(always.key).toBe('acme');
    expect(byCode.DOCUMENT_NOT_FOUND!.headers[HEADERS.errorMessage]).toBe('no document bad-1');
    expect(byCode.DOCUMENT_NOT_FOUND!.headers[HEADERS.attempt]).toBeUndefined();
    expect(byCode.INVALID_JSON!.value).toBe('{oops');
    expect(byCode.INVALID_JSON!.headers[HEADERS.errorMessage]).toMatch(/value is not JSON/);

    // Each retry ran only once its due time had come, tier by tier.
    const attempts = seen.filter((s) => s.id === 'always-1');
    expect(attempts.map((s) => s.attempt)).toEqual([0, 1, 2]);
    for (const retry of seen.filter((s) => s.attempt > 0)) expect(retry.at).toBeGreaterThanOrEqual(retry.dueAt);
  });

  it('pauses instead of retrying while the gate is open, and resumes when it closes', async () => {
    const names = topicNames(topics.prefix);
    const listeners: Array<() => void> = [];
    let open = false;
    const gate = { isOpen: () => open, onChange: (listener: () => void) => listeners.push(listener) };
    const setOpen = (value: boolean) => {
      open = value;
      for (const listener of listeners) listener();
    };
    const metrics = createConsumerMetrics(createRegistry('test'));
    const handled: string[] = [];
    stage = new StageConsumer<IngestRequest>({
      kafka: topics.kafka,
      producer,
      logger: testLogger(),
      metrics,
      topic: names.ingest,
      groupId: `${topics.prefix}gate`,
      schema: ingestRequestSchema,
      retryDelaysMs: [200],
      gate,
      handle: async (message) => {
        if (message.value.documentId === 'trips-breaker' && !handled.includes('tripped')) {
          handled.push('tripped');
          setOpen(true);
          throw new TransientError('EMBEDDING_FAILED', 'provider is down');
        }
        handled.push(message.value.documentId);
      },
    });
    await stage.start();
    await eventually(() => stage!.isReady(), { description: 'consumer ready' });
    const send = (id: string) => ({ key: 'acme', value: JSON.stringify({ tenantId: 'acme', documentId: id, version: 1 }) });
    await producer.send({ topic: names.ingest, messages: [send('trips-breaker'), send('after-1'), send('after-2')] });

    await eventually(async () => (await metrics.paused.get()).values.some((v) => v.labels.reason === 'breaker' && v.value > 0), {
      description: 'partition paused for the breaker',
    });
    expect(handled).toEqual(['tripped']);
    setOpen(false);
    await eventually(() => handled.length === 4, { description: 'all handled after the breaker closed' });
    expect(handled).toEqual(['tripped', 'trips-breaker', 'after-1', 'after-2']);
    // The outage sent nothing to a retry tier or the DLQ.
    expect(await readTopic(topics.kafka, `${names.ingest}.retry.1`)).toEqual([]);
    expect(await readTopic(topics.kafka, dlqTopic(names.ingest))).toEqual([]);
  });

  it('waits out a rate limit and reads the message again, never counting it as a failure', async () => {
    const names = topicNames(topics.prefix);
    const attempts: number[] = [];
    stage = new StageConsumer<IngestRequest>({
      kafka: topics.kafka,
      producer,
      logger: testLogger(),
      metrics: createConsumerMetrics(createRegistry('test')),
      topic: names.ingest,
      groupId: `${topics.prefix}limited`,
      schema: ingestRequestSchema,
      retryDelaysMs: [200],
      handle: async () => {
        attempts.push(Date.now());
        if (attempts.length <= 2) throw new TransientError('EMBEDDING_RATE_LIMITED', 'quota exceeded', { details: { retryAfterMs: 300 } });
      },
    });
    await stage.start();
    await eventually(() => stage!.isReady(), { description: 'consumer ready' });
    await producer.send({ topic: names.ingest, messages: [{ key: 'acme', value: JSON.stringify({ tenantId: 'acme', documentId: 'd', version: 1 }) }] });
    await eventually(() => attempts.length === 3, { description: 'handled after two rate limits' });
    expect(attempts[1]! - attempts[0]!).toBeGreaterThanOrEqual(300);
    expect(attempts[2]! - attempts[1]!).toBeGreaterThanOrEqual(300);
    expect(await readTopic(topics.kafka, `${names.ingest}.retry.1`)).toEqual([]);
    expect(await readTopic(topics.kafka, dlqTopic(names.ingest))).toEqual([]);
  });
});
