import { HEADERS, dlqTopic } from '@docintel/contracts';
import { CliContext, dlqListCommand, dlqShowCommand, replayCommand, run } from '@docintel/cli';
import { createTestTopics, uniqueSuffix, type TestTopics } from '@docintel/testing';
import { RAW_CONTROL } from './terminal-check';

/**
 * A dead letter whose headers were written by a hostile tenant: escape sequences that would clear
 * and recolour the operator's screen, a C1 CSI, a right-to-left override, and a 10 KB tenant id.
 */
describe('docintel dlq output is terminal-safe and bounded', () => {
  let topics: TestTopics;
  const lines: string[] = [];
  const contexts: CliContext[] = [];
  const tenant = `t${uniqueSuffix()}${'x'.repeat(10_000)}`.slice(0, 10_000);
  const hostile = {
    [HEADERS.tenantId]: tenant,
    [HEADERS.traceId]: 'trace-\x1b]0;pwned\x07',
    [HEADERS.schemaVersion]: '1',
    [HEADERS.errorCode]: 'SCHEMA\x1b[5mINVALID',
    [HEADERS.errorMessage]: `\x1b[2J\x1b[H\x1b[31mall your base\u009b31m \u202eesrever\u202c ${'m'.repeat(2_000)}`,
    [HEADERS.originalTopic]: 'document.ingest\x1b[8m',
    [HEADERS.originalPartition]: '0',
    [HEADERS.originalOffset]: '5',
    'x-tenant-note\u202e': 'note\r\x1b[1Aover',
  };
  const value = JSON.stringify({ tenantId: tenant, documentId: 'doc\u202e1', version: 1, title: 'T\x7f\u009b' });
  let location: string;

  const context = () => {
    const ctx = new CliContext({ ...process.env, TOPIC_PREFIX: topics.prefix }, (line) => lines.push(line));
    contexts.push(ctx);
    return ctx;
  };

  beforeAll(async () => {
    topics = await createTestTopics({ partitions: 1 });
    const ctx = context();
    const producer = await ctx.producer();
    const [sent] = await producer.send({ topic: dlqTopic(ctx.topics.ingest), acks: -1, messages: [{ key: tenant, value, headers: hostile }] });
    location = `${dlqTopic(ctx.topics.ingest)}:0:${sent!.baseOffset}`;
  });

  afterAll(async () => {
    await Promise.allSettled(contexts.map((ctx) => ctx.close()));
    await topics?.cleanup();
  });

  beforeEach(() => lines.splice(0));

  const output = () => lines.join('\n');
  const expectSafe = (text: string, maxLine: number) => {
    expect(text).not.toMatch(RAW_CONTROL);
    for (const line of text.split('\n')) expect(line.length).toBeLessThanOrEqual(maxLine);
  };

  it('lists the dead letter in an escaped row of bounded width', async () => {
    expect(await dlqListCommand(context(), { limit: 10 })).toHaveLength(1);
    const text = output();
    // Every column is cut: the whole row stays far below the 10 KB of the tenant id.
    expectSafe(text, 700);
    expect(text).toContain('\\x1b[2J\\x1b[H\\x1b[31mall your base\\x9b31m \\u202eesrever\\u202c');
    expect(text).toContain('SCHEMA\\x1b[5mINVALID');
    expect(text).toContain(`${tenant.slice(0, 40)}`);
    expect(text).toContain('…');
    expect(text).not.toContain(tenant.slice(0, 100));
  });

  it('cuts and escapes the samples of a dry-run replay', async () => {
    expect(await replayCommand(context(), { from: 'ingest', dryRun: true })).toEqual({ matched: 1, sent: 0 });
    expectSafe(output(), 700);
    expect(output()).toContain('code=SCHEMA\\x1b[5mINVALID \\x1b[2J');
  });

  it('shows the message in full, every value escaped', async () => {
    await dlqShowCommand(context(), location);
    const text = output();
    expect(text).not.toMatch(RAW_CONTROL);
    expect(text).toContain(`key: ${tenant}`);
    expect(text).toContain(`tenant-id: ${tenant}`);
    expect(text).toContain('x-tenant-note\\u202e: note\\r\\x1b[1Aover');
    expect(text).toContain('"documentId": "doc\\u202e1"');
    expect(text).toContain('"title": "T\\x7f\\x9b"');
  });

  it('--json gives the exact values, JSON-encoded and terminal-safe, from list and show', async () => {
    await run(['dlq', '--json'], context());
    const listed = output();
    expect(listed).not.toMatch(RAW_CONTROL);
    const [entry] = JSON.parse(listed) as Array<{ key: string; headers: Record<string, string>; value?: string }>;
    expect(entry!.key).toBe(tenant);
    expect(entry!.headers).toEqual(hostile);
    expect(entry!.value).toBeUndefined();

    lines.splice(0);
    await run(['dlq', 'show', location, '--json'], context());
    const shown = output();
    expect(shown).not.toMatch(RAW_CONTROL);
    const message = JSON.parse(shown) as { key: string; headers: Record<string, string>; value: string; offset: string };
    expect(message).toMatchObject({ key: tenant, headers: hostile, value });
    expect(location.endsWith(`:0:${message.offset}`)).toBe(true);
  });
});
