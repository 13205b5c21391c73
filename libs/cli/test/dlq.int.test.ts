import { HEADERS, dlqTopic } from '@docintel/contracts';
import { CliContext, dlqListCommand, dlqShowCommand, replayCommand } from '@docintel/cli';
import { createTestTopics, readTopic, type TestTopics } from '@docintel/testing';

describe('docintel dlq and replay', () => {
  let topics: TestTopics;
  let ctx: CliContext;
  const lines: string[] = [];

  beforeAll(async () => {
    topics = await createTestTopics({ partitions: 2 });
    ctx = new CliContext({ ...process.env, TOPIC_PREFIX: topics.prefix }, (line) => lines.push(line));
    const dead = (tenant: string, code: string, offset: string, attempt?: string) => ({
      key: tenant,
      value: JSON.stringify({ tenantId: tenant, documentId: `doc-${code}`, version: 1 }),
      headers: {
        [HEADERS.tenantId]: tenant,
        [HEADERS.traceId]: `trace-${tenant}-${code}`,
        [HEADERS.schemaVersion]: '1',
        [HEADERS.originalTopic]: ctx.topics.ingest,
        [HEADERS.originalPartition]: '0',
        [HEADERS.originalOffset]: offset,
        [HEADERS.errorCode]: code,
        [HEADERS.errorMessage]: `failed with ${code}`,
        [HEADERS.errorRetriable]: String(code === 'DATABASE_UNAVAILABLE'),
        ...(attempt ? { [HEADERS.attempt]: attempt } : {}),
      },
    });
    const producer = await ctx.producer();
    await producer.send({
      topic: dlqTopic(ctx.topics.ingest),
      messages: [dead('acme', 'DOCUMENT_NOT_FOUND', '7'), dead('globex', 'DATABASE_UNAVAILABLE', '9', '3'), dead('acme', 'SCHEMA_INVALID', '11')],
    });
  });

  afterAll(async () => {
    await ctx.close();
    await topics.cleanup();
  });

  beforeEach(() => lines.splice(0));

  it('lists dead letters with their reasons, filtered by tenant and code', async () => {
    expect(await dlqListCommand(ctx, { limit: 50 })).toHaveLength(3);
    const acme = await dlqListCommand(ctx, { limit: 50, tenant: 'acme' });
    expect(acme.map((m) => m.headers[HEADERS.errorCode]).sort()).toEqual(['DOCUMENT_NOT_FOUND', 'SCHEMA_INVALID']);
    const one = await dlqListCommand(ctx, { topic: 'ingest', limit: 50, code: 'DATABASE_UNAVAILABLE' });
    expect(one).toHaveLength(1);
    expect(lines.join('\n')).toContain('failed with DATABASE_UNAVAILABLE');
  });

  it('shows one message in full', async () => {
    const [first] = await dlqListCommand(ctx, { limit: 1, code: 'DOCUMENT_NOT_FOUND' });
    lines.splice(0);
    await dlqShowCommand(ctx, `${first!.topic}:${first!.partition}:${first!.offset}`);
    const text = lines.join('\n');
    expect(text).toContain('key: acme');
    expect(text).toContain('x-error-code: DOCUMENT_NOT_FOUND');
    expect(text).toContain('"documentId": "doc-DOCUMENT_NOT_FOUND"');
  });

  it('a dry run counts and sends nothing; a replay restores key and headers and marks the copy', async () => {
    const dry = await replayCommand(ctx, { from: 'ingest', dryRun: true, tenant: 'globex' });
    expect(dry).toEqual({ matched: 1, sent: 0 });
    expect(await readTopic(topics.kafka, ctx.topics.ingest)).toEqual([]);

    const before = Date.now();
    const result = await replayCommand(ctx, { from: 'ingest', dryRun: false, tenant: 'globex', rate: 50 });
    expect(result).toEqual({ matched: 1, sent: 1 });
    const [replayed] = await readTopic(topics.kafka, ctx.topics.ingest);
    expect(replayed!.key).toBe('globex');
    expect(replayed!.value).toBe(JSON.stringify({ tenantId: 'globex', documentId: 'doc-DATABASE_UNAVAILABLE', version: 1 }));
    expect(replayed!.headers[HEADERS.traceId]).toBe('trace-globex-DATABASE_UNAVAILABLE');
    expect(replayed!.headers[HEADERS.attempt]).toBeUndefined();
    expect(Number(replayed!.headers[HEADERS.replayedAt])).toBeGreaterThanOrEqual(before);
    expect(replayed!.headers[HEADERS.replayedFrom]).toMatch(new RegExp(`^${dlqTopic(ctx.topics.ingest).replace(/\./g, '\\.')}:\\d:\\d+$`));
    // a new history: the failure headers stay behind in the dead letter
    expect(replayed!.headers[HEADERS.originalOffset]).toBeUndefined();
    expect(replayed!.headers[HEADERS.errorCode]).toBeUndefined();
    expect(replayed!.headers[HEADERS.firstFailedAt]).toBeUndefined();
  });

  it('stops at --max', async () => {
    const result = await replayCommand(ctx, { from: dlqTopic(ctx.topics.ingest), dryRun: true, max: 2 });
    expect(result.matched).toBe(2);
  });
});
