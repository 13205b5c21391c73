#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { errorMessage, quietKnownWarnings } from '@docintel/core';
import { CliContext } from './context';
import { demoCommand } from './commands/demo';
import { deleteCommand, ingestCommand } from './commands/ingest';
import { searchCommand } from './commands/search';
import { downCommand, migrateCommand, topicsCreateCommand, upCommand } from './commands/stack';
import { statusCommand, watchProgress } from './commands/status';

const USAGE = `usage: docintel <command> [options]

  demo [--keep]                          the quickstart: stack up, sample documents of two tenants, progress, search, stack down
  up [--partitions N]                    start the local broker, migrate, create topics, start the four services
  down [--kafka]                         stop the services (and the local broker)
  migrate                                create the database if needed and apply the migrations
  topics create [--partitions N]         create every topic of the design (safe to run twice)
  ingest <files or folders> --tenant T [--wait]
                                         store the documents and send new or changed versions through the pipeline
  delete <document id or path> --tenant T
  status [--tenant T] [document]         states, progress and errors of the latest version of each document
  search --tenant T [--top K] "text"     top matches in the tenant's namespace

Environment: KAFKA_BROKERS, TOPIC_PREFIX, DATABASE_URL, LANCEDB_DIR, EMBEDDING_DIMENSION, DOCINTEL_HOME (see README).`;

function int(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new Error(`--${name} must be a positive whole number, got "${value}"`);
  return Number(value);
}

function required(value: string | undefined, name: string): string {
  if (value === undefined || value === '') throw new Error(`--${name} is required`);
  return value;
}

export async function run(argv: string[], ctx = new CliContext()): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      tenant: { type: 'string', short: 't' },
      top: { type: 'string', short: 'k' },
      partitions: { type: 'string' },
      keep: { type: 'boolean' },
      kafka: { type: 'boolean' },
      wait: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    ctx.out(USAGE);
    return;
  }
  const partitions = int(values.partitions, 'partitions', 12);
  try {
    switch (command) {
      case 'demo':
        return await demoCommand(ctx, { keep: values.keep === true, partitions });
      case 'up':
        return await upCommand(ctx, { partitions });
      case 'down':
        return await downCommand(ctx, { kafka: values.kafka === true });
      case 'migrate':
        return await migrateCommand(ctx);
      case 'topics':
        if (rest[0] !== 'create') throw new Error('usage: docintel topics create [--partitions N]');
        return await topicsCreateCommand(ctx, { partitions, retryTiers: 3 });
      case 'ingest': {
        const result = await ingestCommand(ctx, rest, { tenant: required(values.tenant, 'tenant') });
        if (values.wait && result.sent.length > 0) await watchProgress(ctx, result.sent);
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
        await searchCommand(ctx, rest.join(' '), { tenant: required(values.tenant, 'tenant'), top: int(values.top, 'top', 5) });
        return;
      default:
        throw new Error(`unknown command "${command}"\n\n${USAGE}`);
    }
  } finally {
    await ctx.close();
  }
}

if (require.main === module) {
  quietKnownWarnings();
  run(process.argv.slice(2)).then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`docintel: ${errorMessage(error)}\n`);
      process.exit(1);
    },
  );
}
