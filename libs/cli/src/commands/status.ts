import type { DocumentState } from '@docintel/contracts';
import type pg from 'pg';
import type { CliContext } from '../context';
import { formatTable, terminalSafe } from '../terminal';
import type { IngestedDocument } from './ingest';
import { stackNotices } from './stack';

interface StatusRow {
  tenant_id: string;
  document_id: string;
  version: number;
  state: DocumentState;
  stage: string;
  total_chunks: number | null;
  stored_chunks: number;
  error_code: string | null;
  error_message: string | null;
  error_stage: string | null;
  updated_at: Date;
  source: string | null;
  waiting_reason?: string | null;
  waiting_until?: Date | null;
}

/** Share of the version's chunks that are stored, as a percentage (100 once completed). */
export function progressOf(row: { state: string; total_chunks: number | null; stored_chunks: number }): number {
  if (row.state === 'completed') return 100;
  if (!row.total_chunks) return 0;
  return Math.min(100, Math.floor((row.stored_chunks / row.total_chunks) * 100));
}

/** Widths of the status table's columns: ids and sources 64, the error 160. */
const STATUS_WIDTHS = [64, 64, 64, 8, 10, 8, 15, 19, 160];

/**
 * The latest version of each document, with state, progress and the last error; then, when the
 * stack `up` started has had restarts or lost a supervisor, a line per process about it.
 */
export async function statusCommand(ctx: CliContext, options: { tenant?: string; document?: string }): Promise<StatusRow[]> {
  try {
    return await documentStatus(ctx, options);
  } finally {
    const notices = stackNotices(ctx);
    if (notices.length > 0) ctx.out(`\n${notices.join('\n')}`);
  }
}

async function documentStatus(ctx: CliContext, options: { tenant?: string; document?: string }): Promise<StatusRow[]> {
  const result = await ctx.pool.query<StatusRow>(
    `select distinct on (s.tenant_id, s.document_id)
            s.tenant_id, s.document_id, s.version, s.state, s.stage, s.total_chunks, s.stored_chunks,
            s.error_code, s.error_message, s.error_stage, s.updated_at, d.source, s.waiting_reason, s.waiting_until
       from document_status s
       left join documents d on d.id = s.document_id and d.tenant_id = s.tenant_id
      where ($1::text is null or s.tenant_id = $1)
        and ($2::text is null or s.document_id = $2 or d.source = $2 or d.source like '%/' || $2)
      order by s.tenant_id, s.document_id, s.version desc`,
    [options.tenant ?? null, options.document ?? null],
  );
  const rows = result.rows;
  if (rows.length === 0) {
    ctx.out('no documents');
    return rows;
  }
  ctx.out(
    formatTable(
      ['TENANT', 'DOCUMENT', 'SOURCE', 'VER', 'STATE', 'PROGRESS', 'CHUNKS', 'UPDATED', 'ERROR OR WAIT'],
      rows.map((row) => [
        row.tenant_id,
        row.document_id,
        row.source ? row.source.split('/').slice(-2).join('/') : '',
        String(row.version),
        row.state,
        `${progressOf(row)}%`,
        `${row.stored_chunks}/${row.total_chunks ?? '?'}`,
        row.updated_at.toISOString().replace('T', ' ').slice(0, 19),
        row.error_code
          ? `${row.error_stage}: ${row.error_code}: ${row.error_message}`
          : row.waiting_reason
            ? `waiting: ${row.waiting_reason}${row.waiting_until ? ` (until ${row.waiting_until.toISOString()})` : ''}`
            : '',
      ]),
      STATUS_WIDTHS,
    ),
  );
  const counts = new Map<string, number>();
  for (const row of rows) counts.set(row.state, (counts.get(row.state) ?? 0) + 1);
  ctx.out(`\n${rows.length} documents: ${[...counts].map(([state, n]) => `${n} ${state}`).join(', ')}`);
  return rows;
}

export interface ProgressSummary {
  total: number;
  completed: number;
  failed: number;
  deleted: number;
  chunksStored: number;
  chunksTotal: number;
  elapsedMs: number;
  failures: Array<{ document: IngestedDocument; code: string; message: string }>;
}

/**
 * Prints what became of the documents a `watchProgress` waited for: one line with the counts and
 * rates (documents/s counts every document that ended, completed or failed), then each failed one
 * with its code and message, and where to see more. Returns the number that failed.
 */
export function reportProgress(ctx: CliContext, summary: ProgressSummary): number {
  const seconds = Math.max(summary.elapsedMs, 1) / 1000;
  const ended = summary.completed + summary.failed + summary.deleted;
  ctx.out(
    `ingested ${ended} documents (${summary.completed} completed, ${summary.failed} failed; ${summary.chunksStored} chunks) ` +
      `in ${seconds.toFixed(1)} s: ${(ended / seconds).toFixed(1)} documents/s, ${(summary.chunksStored / seconds).toFixed(0)} chunks/s`,
  );
  for (const failure of summary.failures) {
    ctx.out(terminalSafe(`  failed: ${failure.document.source} (${failure.document.documentId}, version ${failure.document.version}): ${failure.code}: ${failure.message}`));
  }
  if (summary.failures.length > 0) {
    const tenants = [...new Set(summary.failures.map((failure) => failure.document.tenantId))];
    ctx.out(
      terminalSafe(
        `  more: \`npx docintel status --tenant ${tenants[0]} <document id>\` (state, stage, error), \`npx docintel dlq --tenant ${tenants[0]}\` (the dead letters)` +
          `; ingesting a failed file again sends it again`,
      ),
    );
  }
  return summary.failed;
}

/** The status rows of these document versions, by `tenant/document/version` (one query for all). */
export async function statusOf(pool: pg.Pool, documents: Array<Omit<IngestedDocument, 'source'>>): Promise<Map<string, StatusRow>> {
  const result = await pool.query<StatusRow>(
    `select s.* , null as source from document_status s
       join unnest($1::text[], $2::text[], $3::int[]) as w(tenant_id, document_id, version)
         on s.tenant_id = w.tenant_id and s.document_id = w.document_id and s.version = w.version`,
    [documents.map((d) => d.tenantId), documents.map((d) => d.documentId), documents.map((d) => d.version)],
  );
  return new Map(result.rows.map((row) => [`${row.tenant_id}/${row.document_id}/${row.version}`, row]));
}

/**
 * Waits until every document version is completed, failed or deleted, showing progress: a live
 * bar on a terminal, a plain line per change (at most one a second) otherwise.
 */
export async function watchProgress(
  ctx: CliContext,
  documents: IngestedDocument[],
  options: { timeoutMs?: number; tty?: boolean; intervalMs?: number } = {},
): Promise<ProgressSummary> {
  const started = Date.now();
  const tty = options.tty ?? process.stdout.isTTY === true;
  const deadline = started + (options.timeoutMs ?? 10 * 60_000);
  let lastLine = '';
  let lastPrinted = 0;
  for (;;) {
    const rows = await statusOf(ctx.pool, documents);
    const summary: ProgressSummary = { total: documents.length, completed: 0, failed: 0, deleted: 0, chunksStored: 0, chunksTotal: 0, elapsedMs: Date.now() - started, failures: [] };
    for (const document of documents) {
      const row = rows.get(`${document.tenantId}/${document.documentId}/${document.version}`);
      if (!row) continue;
      if (row.state === 'completed') summary.completed += 1;
      if (row.state === 'deleted') summary.deleted += 1;
      if (row.state === 'failed') {
        summary.failed += 1;
        summary.failures.push({ document, code: row.error_code ?? 'UNKNOWN', message: row.error_message ?? '' });
      }
      summary.chunksStored += row.state === 'completed' ? (row.total_chunks ?? row.stored_chunks) : row.stored_chunks;
      summary.chunksTotal += row.total_chunks ?? 0;
    }
    const done = summary.completed + summary.failed + summary.deleted;
    const seconds = summary.elapsedMs / 1000;
    const rate = seconds > 0 ? (summary.completed / seconds).toFixed(1) : '0.0';
    const text = `${done}/${summary.total} documents (${summary.completed} completed, ${summary.failed} failed), ${summary.chunksStored}/${summary.chunksTotal} chunks stored, ${rate} docs/s`;
    if (tty) {
      const width = 30;
      const filled = Math.round((done / Math.max(1, summary.total)) * width);
      process.stdout.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}   `);
    } else if (text !== lastLine && (Date.now() - lastPrinted >= 1_000 || done === summary.total)) {
      ctx.out(`progress: ${text}`);
      lastLine = text;
      lastPrinted = Date.now();
    }
    if (done === summary.total) {
      if (tty) process.stdout.write('\n');
      return summary;
    }
    if (Date.now() > deadline) {
      if (tty) process.stdout.write('\n');
      throw new Error(`timed out after ${Math.round((Date.now() - started) / 1000)} s: ${text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 250));
  }
}
