#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { assertSupportedNode, errorMessage, quietKnownWarnings } from '@docintel/core';
import { CliContext } from './context';
import { terminalSafe } from './terminal';
import { demoCommand } from './commands/demo';
import { dlqListCommand, dlqShowCommand, replayCommand, type MessageFilter } from './commands/dlq';
import { deleteCommand, ingestCommand } from './commands/ingest';
import { searchCommand } from './commands/search';
import { downCommand, migrateCommand, topicsCreateCommand, upCommand } from './commands/stack';
import { reportProgress, statusCommand, watchProgress } from './commands/status';

const USAGE = `usage: docintel <command> [options]

  demo [--keep] [--providers P]          the quickstart: stack up, sample documents of two tenants, progress, search, stack down
  up [--partitions N] [--replication-factor R] [--providers P]
                                         start the local broker, migrate, create topics, start the four services,
                                         each under a supervisor that restarts it when it exits
                                         (P: embedded, the default, or emulated: Gemini and Pinecone adapters against local emulators)
  down [--kafka]                         stop the services (and the local broker)
  migrate                                create the database if needed and apply the migrations
  topics create [--partitions N] [--replication-factor R]
                                         create every topic of the design (safe to run twice); new topics get
                                         R replicas, by default the broker's default.replication.factor
  ingest <files or folders> --tenant T [--wait] [--force]
                                         store the documents and send new or changed versions through the pipeline
                                         (--force: every file as a new version, changed or not)
  delete <document id or path> --tenant T
  status [--tenant T] [document]         states, progress and errors of the latest version of each document
  search --tenant T [--top K] [--min-score S] "text"
                                         top matches in the tenant's namespace (those scoring S or more)
  dlq [--topic T] [filters] [--limit N] [--json]
                                         dead letters with their reasons (every DLQ unless --topic ingest|chunks|vectors|status|<name>);
                                         long values are cut, --json prints every key and header exactly
  dlq show <topic:partition:offset> [--json]
                                         one message in full: key, headers, value (--json: the exact values)
  replay --from T [--to T] [filters] [--dry-run] [--rate N] [--max N]
                                         put messages of a DLQ (or any topic) back on their original topic
  filters: --tenant T --code C --since ISO --until ISO --partition P --offsets FROM-TO

Environment: KAFKA_BROKERS, TOPIC_PREFIX, DATABASE_URL, LANCEDB_DIR, EMBEDDING_DIMENSION, DOCINTEL_HOME (see README).`;

function int(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new Error(`--${name} must be a positive whole number, got "${value}"`);
  return Number(value);
}

/** A similarity score: a number from -1 to 1. */
function score(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed) || parsed < -1 || parsed > 1) {
    throw new Error(`--${name} must be a number from -1 to 1, got "${value}"`);
  }
  return parsed;
}

function required(value: string | undefined, name: string): string {
  if (value === undefined || value === '') throw new Error(`--${name} is required`);
  return value;
}

function time(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const at = Date.parse(value);
  if (Number.isNaN(at)) throw new Error(`--${name} must be a date and time (ISO 8601), got "${value}"`);
  return at;
}

/** The message filters shared by `dlq` and `replay`. */
function filterOf(values: { tenant?: string; code?: string; since?: string; until?: string; partition?: string; offsets?: string }): MessageFilter {
  const filter: MessageFilter = {};
  if (values.tenant !== undefined) filter.tenant = values.tenant;
  if (values.code !== undefined) filter.code = values.code;
  const since = time(values.since, 'since');
  const until = time(values.until, 'until');
  if (since !== undefined) filter.since = since;
  if (until !== undefined) filter.until = until;
  if (values.partition !== undefined) {
    if (!/^\d+$/.test(values.partition)) throw new Error(`--partition must be a whole number, got "${values.partition}"`);
    filter.partition = Number(values.partition);
  }
  if (values.offsets !== undefined) {
    const match = /^(\d+)-(\d+)$/.exec(values.offsets);
    if (!match) throw new Error(`--offsets must be FROM-TO (inclusive), got "${values.offsets}"`);
    filter.fromOffset = BigInt(match[1]!);
    filter.toOffset = BigInt(match[2]!);
  }
  return filter;
}

export async function run(argv: string[], ctx = new CliContext(process.env, undefined, { useStackFile: true })): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      tenant: { type: 'string', short: 't' },
      top: { type: 'string', short: 'k' },
      'min-score': { type: 'string' },
      partitions: { type: 'string' },
      'replication-factor': { type: 'string' },
      keep: { type: 'boolean' },
      kafka: { type: 'boolean' },
      wait: { type: 'boolean' },
      force: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
      topic: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      code: { type: 'string' },
      since: { type: 'string' },
      until: { type: 'string' },
      partition: { type: 'string' },
      offsets: { type: 'string' },
      limit: { type: 'string' },
      rate: { type: 'string' },
      max: { type: 'string' },
      'dry-run': { type: 'boolean' },
      providers: { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    ctx.out(USAGE);
    return;
  }
  const partitions = int(values.partitions, 'partitions', 12);
  // Unset: the broker's default.replication.factor.
  const replicationFactor = values['replication-factor'] === undefined ? undefined : int(values['replication-factor'], 'replication-factor', 1);
  const providers = values.providers ?? 'embedded';
  if (providers !== 'embedded' && providers !== 'emulated') throw new Error(`--providers must be embedded or emulated, got "${providers}"`);
  try {
    switch (command) {
      case 'demo':
        return await demoCommand(ctx, { keep: values.keep === true, partitions, providers });
      case 'up':
        return await upCommand(ctx, { partitions, replicationFactor, providers });
      case 'down':
        return await downCommand(ctx, { kafka: values.kafka === true });
      case 'migrate':
        return await migrateCommand(ctx);
      case 'topics':
        if (rest[0] !== 'create') throw new Error('usage: docintel topics create [--partitions N] [--replication-factor R]');
        return await topicsCreateCommand(ctx, { partitions, retryTiers: 3, replicationFactor });
      case 'ingest': {
        const result = await ingestCommand(ctx, rest, { tenant: required(values.tenant, 'tenant'), force: values.force === true });
        if (values.wait && result.sent.length > 0) {
          const failed = reportProgress(ctx, await watchProgress(ctx, result.sent));
          if (failed > 0) throw new Error(`${failed} of ${result.sent.length} documents failed`);
        }
        return;
      }
      case 'delete':
        if (rest.length !== 1) throw new Error('usage: docintel delete <document id or path> --tenant T');
        await deleteCommand(ctx, rest[0]!, { tenant: required(values.tenant, 'tenant') });
        return;
      case 'status':
        await statusCommand(ctx, { tenant: values.tenant, document: rest[0] });
        return;
      case 'search':
        await searchCommand(ctx, rest.join(' '), {
          tenant: required(values.tenant, 'tenant'),
          top: int(values.top, 'top', 5),
          minScore: score(values['min-score'], 'min-score'),
        });
        return;
      case 'dlq': {
        if (rest[0] === 'show') {
          if (rest.length !== 2) throw new Error('usage: docintel dlq show <topic:partition:offset> [--json]');
          await dlqShowCommand(ctx, rest[1]!, { json: values.json === true });
          return;
        }
        await dlqListCommand(ctx, { topic: values.topic, limit: int(values.limit, 'limit', 50), json: values.json === true, ...filterOf(values) });
        return;
      }
      case 'replay':
        await replayCommand(ctx, {
          from: required(values.from, 'from'),
          to: values.to,
          dryRun: values['dry-run'] === true,
          rate: values.rate === undefined ? undefined : int(values.rate, 'rate', 1),
          max: values.max === undefined ? undefined : int(values.max, 'max', 1),
          ...filterOf(values),
        });
        return;
      default:
        throw new Error(`unknown command "${command}"\n\n${USAGE}`);
    }
  } finally {
    await ctx.close();
  }
}

/** Runs the command line and exits with its outcome: `node libs/cli/dist/main.js`, and the `docintel` bin. */
export function main(argv: string[]): void {
  quietKnownWarnings();
  Promise.resolve()
    .then(() => assertSupportedNode('docintel'))
    .then(() => run(argv))
    .then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`docintel: ${terminalSafe(errorMessage(error), { multiline: true })}\n`);
        process.exit(1);
      },
    );
}

if (require.main === module) main(process.argv.slice(2));
