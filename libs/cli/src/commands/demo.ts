import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { CliContext } from '../context';
import { ROOT } from '../paths';
import { ingestCommand, type IngestedDocument } from './ingest';
import { searchCommand } from './search';
import { downCommand, upCommand, type Providers } from './stack';
import { reportProgress, watchProgress } from './status';

/** The sample corpus: a folder per tenant, and a query whose answer sits in one document. */
export const DEMO_TENANTS = [
  { tenant: 'acme', folder: 'examples/acme', query: 'quarterly kayak reimbursement' },
  { tenant: 'globex', folder: 'examples/globex', query: 'flux capacitor calibration error E-42' },
] as const;

function brokerAnswers(): boolean {
  try {
    execFileSync('bash', ['-c', 'exec 3<>/dev/tcp/127.0.0.1/${KAFKA_PORT:-9092}'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * The quickstart: broker, schema, topics and the four services; the sample documents of two
 * tenants with progress until all are done; a search per tenant; then everything it started is
 * stopped again, unless `keep`.
 */
export async function demoCommand(ctx: CliContext, options: { keep: boolean; partitions: number; providers?: Providers }): Promise<void> {
  const started = Date.now();
  const brokerWasRunning = ctx.env.KAFKA_BROKERS !== undefined || brokerAnswers();
  await upCommand(ctx, { partitions: options.partitions, providers: options.providers ?? 'embedded' });
  let failed = 0;
  try {
    const sent: IngestedDocument[] = [];
    for (const { tenant, folder } of DEMO_TENANTS) {
      const dir = path.join(ROOT, folder);
      if (!existsSync(dir)) throw new Error(`sample documents missing: ${dir}`);
      // Every run sends every sample document as a new version, so that each run shows the whole
      // pipeline, and finds the vectors, even when PostgreSQL remembers the documents from an earlier
      // run whose vector store is gone (a new clone on the same machine). Unchanged chunks are not
      // embedded again: the embedding cache answers them.
      sent.push(...(await ingestCommand(ctx, [dir], { tenant, force: true })).sent);
    }
    if (sent.length > 0) {
      failed = reportProgress(ctx, await watchProgress(ctx, sent));
    } else {
      ctx.out('nothing new to ingest: every sample document is already in at its current version');
    }
    for (const { tenant, query } of DEMO_TENANTS) {
      ctx.out('');
      const matches = await searchCommand(ctx, query, { tenant, top: 3 });
      if (matches.length === 0) throw new Error(`the search of tenant ${tenant} found nothing`);
    }
  } finally {
    if (!options.keep) {
      ctx.out('');
      await downCommand(ctx, { kafka: !brokerWasRunning });
    } else {
      ctx.out('\nthe stack keeps running: `npx docintel status`, `npx docintel search --tenant acme "..."`, `npx docintel down --kafka` to stop it');
    }
  }
  ctx.out(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (failed > 0) throw new Error(`${failed} documents failed`);
}
