import { HEADERS, dlqTopic, sourceTopicOf, type HeaderMap, type TopicNames } from '@docintel/contracts';
import { scanTopic, sendAll, type ScannedMessage } from '@docintel/kafka';
import type { CliContext } from '../context';
import { formatTable, terminalCell, terminalSafe, terminalSafeJson } from '../terminal';

/** `ingest`, `chunks`, `vectors`, `status`, or a full topic name. */
export function resolveTopic(topics: TopicNames, name: string, kind: 'dlq' | 'plain' = 'plain'): string {
  const roles: Record<string, string> = { ingest: topics.ingest, chunks: topics.chunks, vectors: topics.vectors, status: topics.status };
  const main = roles[name];
  if (main === undefined) return name;
  return kind === 'dlq' ? dlqTopic(main) : main;
}

export interface MessageFilter {
  tenant?: string;
  code?: string;
  /** Epoch ms, inclusive. */
  since?: number;
  until?: number;
  partition?: number;
  fromOffset?: bigint;
  toOffset?: bigint;
}

export function matches(message: ScannedMessage, filter: MessageFilter): boolean {
  const tenant = message.headers[HEADERS.tenantId] ?? message.key?.toString();
  if (filter.tenant !== undefined && tenant !== filter.tenant) return false;
  if (filter.code !== undefined && message.headers[HEADERS.errorCode] !== filter.code) return false;
  if (filter.since !== undefined && message.timestamp < filter.since) return false;
  if (filter.until !== undefined && message.timestamp > filter.until) return false;
  return true;
}

function scanOptions(filter: MessageFilter) {
  return {
    ...(filter.partition !== undefined ? { partitions: [filter.partition] } : {}),
    ...(filter.fromOffset !== undefined ? { fromOffset: filter.fromOffset } : {}),
    ...(filter.toOffset !== undefined ? { toOffset: filter.toOffset } : {}),
  };
}

/** Bytes as JSON: the UTF-8 text, and base64 too when the bytes are not valid UTF-8 (the text is then lossy). */
function bytesJson(name: 'key' | 'value', bytes: Buffer | null): Record<string, string | null> {
  if (bytes === null) return { [name]: null };
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) ? { [name]: text } : { [name]: text, [`${name}Base64`]: bytes.toString('base64') };
}

/** A message as `--json` prints it: exact values (headers as read, a repeated one by its last value). */
export function messageJson(message: ScannedMessage, options: { value: boolean }): Record<string, unknown> {
  return {
    topic: message.topic,
    partition: message.partition,
    offset: message.offset,
    timestamp: message.timestamp,
    ...bytesJson('key', message.key),
    headers: message.headers,
    ...(options.value ? bytesJson('value', message.value) : {}),
  };
}

/** Widths of the listing's columns: where (a Kafka topic name, at most 249 characters), time, tenant, code, first origin, error. */
const DLQ_WIDTHS = [270, 19, 64, 40, 100, 120];

/**
 * Lists dead letters with their reasons (topics: every DLQ of the design unless one is named): a
 * table of terminal-safe, cut values, or with `json` every message's exact key and headers.
 */
export async function dlqListCommand(ctx: CliContext, options: { topic?: string; limit: number; json?: boolean } & MessageFilter): Promise<ScannedMessage[]> {
  const topics = options.topic
    ? [resolveTopic(ctx.topics, options.topic, 'dlq')]
    : [ctx.topics.ingest, ctx.topics.chunks, ctx.topics.vectors, ctx.topics.status].map(dlqTopic);
  const found: ScannedMessage[] = [];
  for (const topic of topics) {
    await scanTopic(ctx.kafka, topic, {
      ...scanOptions(options),
      groupPrefix: ctx.kafkaConfig.topicPrefix,
      onMessage: (message) => {
        if (matches(message, options)) found.push(message);
        return found.length < options.limit;
      },
    });
    if (found.length >= options.limit) break;
  }
  if (options.json) {
    ctx.out(terminalSafeJson(found.map((message) => messageJson(message, { value: false })), 2));
    return found;
  }
  if (found.length === 0) {
    ctx.out('no dead letters');
    return found;
  }
  ctx.out(
    formatTable(
      ['WHERE', 'TIME', 'TENANT', 'CODE', 'FROM', 'ERROR'],
      found.map((m) => [
        `${m.topic}:${m.partition}:${m.offset}`,
        new Date(m.timestamp).toISOString().slice(0, 19).replace('T', ' '),
        m.headers[HEADERS.tenantId] ?? m.key?.toString() ?? '',
        m.headers[HEADERS.errorCode] ?? '',
        m.headers[HEADERS.originalTopic] ? `${m.headers[HEADERS.originalTopic]}:${m.headers[HEADERS.originalPartition]}:${m.headers[HEADERS.originalOffset]}` : '',
        m.headers[HEADERS.errorMessage] ?? '',
      ]),
      DLQ_WIDTHS,
    ),
  );
  ctx.out(`\n${found.length} dead letters${found.length === options.limit ? ` (the first ${options.limit}; --limit shows more)` : ''}`);
  return found;
}

/** `topic:partition:offset` → its parts; the topic may itself contain colons only before the last two. */
export function parseLocation(location: string): { topic: string; partition: number; offset: bigint } {
  const match = /^(.+):(\d+):(\d+)$/.exec(location);
  if (!match) throw new Error(`expected topic:partition:offset, got "${location}"`);
  return { topic: match[1]!, partition: Number(match[2]), offset: BigInt(match[3]!) };
}

/**
 * One message in full: where, key, every header, and the value (pretty-printed when JSON), every
 * value terminal-safe and uncut; with `json`, the exact values.
 */
export async function dlqShowCommand(ctx: CliContext, location: string, options: { json?: boolean } = {}): Promise<ScannedMessage | undefined> {
  const where = parseLocation(location);
  let found: ScannedMessage | undefined;
  await scanTopic(ctx.kafka, resolveTopic(ctx.topics, where.topic, 'dlq'), {
    groupPrefix: ctx.kafkaConfig.topicPrefix,
    partitions: [where.partition],
    fromOffset: where.offset,
    toOffset: where.offset,
    onMessage: (message) => {
      found = message;
      return false;
    },
  });
  if (!found) throw new Error(`no message at ${terminalSafe(location)}`);
  if (options.json) {
    ctx.out(terminalSafeJson(messageJson(found, { value: true }), 2));
    return found;
  }
  ctx.out(`${found.topic}:${found.partition}:${found.offset}  ${new Date(found.timestamp).toISOString()}`);
  ctx.out(`key: ${found.key ? terminalSafe(found.key.toString()) : '(none)'}`);
  ctx.out('headers:');
  for (const [name, value] of Object.entries(found.headers).sort()) ctx.out(`  ${terminalSafe(name)}: ${terminalSafe(value)}`);
  const text = found.value?.toString('utf8') ?? '';
  let pretty = text;
  try {
    pretty = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // not JSON: shown as it is (that may be why it is here)
  }
  // JSON.stringify leaves DEL, C1, bidirectional and format characters in strings raw.
  ctx.out(`value (${found.value?.byteLength ?? 0} bytes):\n${terminalSafe(pretty, { multiline: true })}`);
  return found;
}

/** The headers a replayed copy takes from the message it copies: those every message has. */
const REPLAYED_HEADERS = [HEADERS.tenantId, HEADERS.traceId, HEADERS.schemaVersion] as const;

/**
 * Headers of a replayed copy: the headers every message has (`tenant-id`, `trace-id`,
 * `schema-version`) and the replay marks. Retry and failure headers stay behind in the dead letter,
 * which a replay never changes: a copy that fails again starts a new history, and its
 * `x-replayed-from` leads back to the old one. The README's kcat and console-tool recipes copy
 * exactly the same headers.
 */
export function replayHeaders(message: ScannedMessage, now = Date.now()): HeaderMap {
  const headers: HeaderMap = {};
  for (const name of REPLAYED_HEADERS) {
    const value = message.headers[name];
    if (value !== undefined) headers[name] = value;
  }
  headers[HEADERS.replayedAt] = String(now);
  headers[HEADERS.replayedFrom] = `${message.topic}:${message.partition}:${message.offset}`;
  return headers;
}

/** Where a message goes back to: the main topic of the DLQ or retry tier it sits in, or its origin. */
export function replayTarget(message: ScannedMessage): string {
  const source = sourceTopicOf(message.topic);
  if (source !== message.topic) return source;
  const original = message.headers[HEADERS.originalTopic];
  if (original) return sourceTopicOf(original);
  throw new Error(`${message.topic}:${message.partition}:${message.offset} names no original topic; pass --to`);
}

export interface ReplayOptions extends MessageFilter {
  from: string;
  to?: string;
  dryRun: boolean;
  /** Messages per second at most. */
  rate?: number;
  max?: number;
}

/**
 * Moves messages from a DLQ (or any topic) back to their original topic, keeping key and headers
 * and adding `x-replayed-at` / `x-replayed-from`. The source is left as it is (a log is not edited).
 */
export async function replayCommand(ctx: CliContext, options: ReplayOptions): Promise<{ matched: number; sent: number }> {
  const from = resolveTopic(ctx.topics, options.from, options.from.includes('.') ? 'plain' : 'dlq');
  const selected: ScannedMessage[] = [];
  await scanTopic(ctx.kafka, from, {
    ...scanOptions(options),
    groupPrefix: ctx.kafkaConfig.topicPrefix,
    onMessage: (message) => {
      if (matches(message, options)) selected.push(message);
      return options.max === undefined || selected.length < options.max;
    },
  });
  const targets = selected.map((message) => (options.to ? resolveTopic(ctx.topics, options.to) : replayTarget(message)));
  if (options.dryRun) {
    ctx.out(`dry run: ${selected.length} messages in ${from} match; nothing sent`);
    selected.slice(0, 5).forEach((m, i) =>
      ctx.out(
        `  ${m.topic}:${m.partition}:${m.offset} -> ${terminalSafe(targets[i]!)}  key=${terminalCell(m.key?.toString() ?? '', 64)} ` +
          `code=${terminalCell(m.headers[HEADERS.errorCode] ?? '', 40)} ${terminalCell(m.headers[HEADERS.errorMessage] ?? '', 80)}`,
      ),
    );
    return { matched: selected.length, sent: 0 };
  }
  const producer = await ctx.producer();
  const perSecond = options.rate ?? Number.POSITIVE_INFINITY;
  const started = Date.now();
  let sent = 0;
  for (const [i, message] of selected.entries()) {
    // Rate limit: the i-th message is not sent before i / rate seconds have passed.
    const due = started + (i / perSecond) * 1000;
    if (Number.isFinite(due) && due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
    await sendAll(producer, [{ topic: targets[i]!, message: { key: message.key, value: message.value, headers: replayHeaders(message) } }]);
    sent += 1;
  }
  ctx.out(`replayed ${sent} messages from ${from}`);
  return { matched: selected.length, sent };
}
