import { randomUUID } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { IngestRequestInput } from '@docintel/contracts';
import { findDocumentBySource, getDocument, markDeleted, upsertDocument, type UpsertDocumentInput } from '@docintel/db';
import type { OutboundMessage } from '@docintel/kafka';
import { statusMessage } from '@docintel/service';
import type { CliContext } from '../context';
import { terminalSafe } from '../terminal';
import { statusOf } from './status';

const MIME_TYPES: Record<string, string> = {
  '.md': 'text/markdown',
  '.markdown': 'text/markdown',
  '.txt': 'text/plain',
  '.text': 'text/plain',
  '.html': 'text/html',
  '.htm': 'text/html',
  '.pdf': 'application/pdf',
  '.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
};

/** The mime type of a file, by its extension; unknown ones go through and fail with a reason. */
export function mimeTypeOf(file: string): string {
  return MIME_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
}

async function listFiles(target: string): Promise<string[]> {
  const info = await stat(target).catch(() => undefined);
  if (!info) throw new Error(`no such file or folder: ${target}`);
  if (info.isFile()) return [path.resolve(target)];
  const files: string[] = [];
  for (const entry of await readdir(target, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(target, entry.name);
    if (entry.isDirectory()) files.push(...(await listFiles(full)));
    else if (entry.isFile()) files.push(path.resolve(full));
  }
  return files.sort();
}

export interface IngestedDocument {
  tenantId: string;
  documentId: string;
  version: number;
  source: string;
}

export interface IngestResult {
  /** Documents whose new version was sent through the pipeline. */
  sent: IngestedDocument[];
  unchanged: number;
}

export interface IngestOptions {
  tenant: string;
  /** Every file as a new version, even when unchanged (after a vector store was emptied, say). @default false */
  force?: boolean;
  quiet?: boolean;
}

/**
 * Stores each file as a document of the tenant and produces one `document.ingest` message per new
 * or changed version (with a `queued` status event); an unchanged file does nothing, unless `force`
 * or its version failed (then it is sent again, as a new version).
 */
export async function ingestCommand(ctx: CliContext, targets: string[], options: IngestOptions): Promise<IngestResult> {
  if (targets.length === 0) throw new Error('ingest needs at least one file or folder');
  const files = (await Promise.all(targets.map(listFiles))).flat();
  const sent: IngestedDocument[] = [];
  const messages: OutboundMessage[] = [];
  const queue = (file: string, result: { id: string; version: number }) => {
    const ref = { tenantId: options.tenant, documentId: result.id, version: result.version };
    const request: IngestRequestInput = { ...ref, op: 'upsert' };
    messages.push({ topic: ctx.topics.ingest, key: options.tenant, value: request, headers: { 'trace-id': randomUUID() } });
    messages.push(statusMessage(ctx.topics.status, ref, 'queued', 'ingest'));
    sent.push({ ...ref, source: file });
  };
  const kept: Array<{ file: string; input: UpsertDocumentInput; ref: Omit<IngestedDocument, 'source'> }> = [];
  for (const file of files) {
    const content = await readFile(file);
    const input = { tenantId: options.tenant, source: file, mimeType: mimeTypeOf(file), content, force: options.force === true };
    const result = await upsertDocument(ctx.pool, input);
    if (result.changed) queue(file, result);
    else kept.push({ file, input, ref: { tenantId: options.tenant, documentId: result.id, version: result.version } });
  }
  // An unchanged file whose version failed is not done: it goes through again, as a new version (so
  // that its status starts afresh rather than staying `failed`).
  const statuses = kept.length > 0 ? await statusOf(ctx.pool, kept.map(({ ref }) => ref)) : new Map<string, { state: string }>();
  let retried = 0;
  for (const { file, input, ref } of kept) {
    if (statuses.get(`${ref.tenantId}/${ref.documentId}/${ref.version}`)?.state !== 'failed') continue;
    queue(file, await upsertDocument(ctx.pool, { ...input, force: true }));
    retried += 1;
  }
  const unchanged = kept.length - retried;
  await ctx.send(messages);
  if (!options.quiet) {
    const again = retried > 0 ? `, ${retried} of them again after a failure` : '';
    ctx.out(`${terminalSafe(options.tenant)}: ${files.length} files, ${sent.length} sent (new or changed${again}), ${unchanged} unchanged`);
  }
  return { sent, unchanged };
}

/** Marks a document deleted and sends the delete through the pipeline, which removes its vectors. */
export async function deleteCommand(ctx: CliContext, target: string, options: { tenant: string }): Promise<IngestedDocument> {
  const bySource = await findDocumentBySource(ctx.pool, options.tenant, path.resolve(target));
  const document = bySource ?? (await getDocument(ctx.pool, target));
  if (!document || document.tenantId !== options.tenant) {
    throw new Error(`tenant ${options.tenant} has no document "${target}" (give a document id or the path it was ingested from)`);
  }
  const deleted = await markDeleted(ctx.pool, options.tenant, document.id);
  if (!deleted) throw new Error(`document "${document.id}" disappeared while deleting it`);
  const ref = { tenantId: options.tenant, documentId: document.id, version: deleted.version };
  await ctx.send([{ topic: ctx.topics.ingest, key: options.tenant, value: { ...ref, op: 'delete' } }]);
  ctx.out(terminalSafe(`${options.tenant}: delete of ${document.id} (version ${deleted.version}) sent`));
  return { ...ref, source: document.source ?? document.id };
}
