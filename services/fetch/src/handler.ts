import path from 'node:path';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { PermanentError, TransientError } from '@docintel/core';
import { contentHash, type ChunkingOptions, type IngestRequest, type StatusEvent, type UpsertChunkBatch } from '@docintel/contracts';
import { readDocument, type Queryable } from '@docintel/db';
import type { ConsumedMessage, HandlerContext } from '@docintel/kafka';
import { statusMessage, type ServiceDeps, type StageHandler } from '@docintel/service';
import { batchChunks, chunkDocument, validateChunkOptions, type ChunkOptions, type TextChunk } from './chunk';
import type { FetchConfig } from './config';
import { withoutJunk, type JunkCounts } from './junk';
import { documentTooLarge } from './limits';
import { parseDocument } from './parse';
import { ParsePool } from './parse-pool';

/**
 * fetch: reads the document row (its size first: content over `config.maxDocumentBytes` is never
 * read; a row that is not there yet is retried, DOCUMENT_NOT_FOUND), checks it belongs to the
 * message's tenant, parses and chunks it, leaves out junk chunks (junk.ts), and emits the chunks
 * in batches; the last batch carries the totals, and the `chunked` event what was merged and
 * dropped. Parsing, chunking and batching are one lazy
 * pipeline, and queued batches are sent whenever they pass `config.flushBytes`, so a 500-page PDF
 * or a 50 MB text file takes bounded memory. PDF, DOCX and HTML are parsed in a pool of processes
 * (`config.parsePool`, or `deps.parsePool` when given) under memory and time limits; the handler's
 * `close` stops a pool it made.
 */
export function createFetchHandler(deps: Pick<ServiceDeps, 'topics'> & { db: Queryable; parsePool?: ParsePool }, config: FetchConfig): StageHandler<IngestRequest> {
  const { topics, db } = deps;
  const pool = deps.parsePool ?? new ParsePool(config.parsePool);
  return {
    ...(deps.parsePool === undefined ? { close: () => pool.close() } : {}),
    handle: async (message: ConsumedMessage<IngestRequest>, context: HandlerContext) => {
      const request = message.value;
      const document = await readDocument(db, request.documentId, { maxContentBytes: config.maxDocumentBytes });
      if (document && document.tenantId !== request.tenantId) {
        // Say nothing about the owner: the message's tenant must not learn whose document it is.
        throw new PermanentError('TENANT_MISMATCH', `document "${request.documentId}" does not belong to tenant "${request.tenantId}"`);
      }
      const ref = { tenantId: request.tenantId, documentId: request.documentId, version: request.version };
      if (request.op === 'delete') {
        // A delete only touches the tenant's own namespace, so it passes on even when the row is gone.
        context.emit({ topic: topics.chunks, key: ref.tenantId, value: { ...ref, op: 'delete' } });
        return;
      }
      if (!document) {
        // Most often the tenant's application produced the message a moment before its
        // transaction committed: retried through the tiers, dead-lettered after the last.
        throw new TransientError('DOCUMENT_NOT_FOUND', `document "${request.documentId}" does not exist`);
      }
      if (document.version > request.version || document.deletedAt !== null) {
        message.logger.info('skipping a superseded version', { requested: request.version, current: document.version, deleted: document.deletedAt !== null });
        return;
      }
      if (document.version < request.version) {
        // The tenant's application produced the message before its database write was visible.
        throw new TransientError('DOCUMENT_NOT_READY', `document "${request.documentId}" is at version ${document.version}, the message names ${request.version}`);
      }
      if (document.content === undefined) throw documentTooLarge(document.size, config.maxDocumentBytes);

      context.emit(statusMessage(topics.status, ref, 'fetching', 'fetch', { replayed: message.replayed }));
      const chunking = chunkingFor(config.chunking, request.chunking);
      const blocks = parseDocument(document.content, document.mimeType, { maxBytes: config.maxDocumentBytes, pool, ...config.limits });
      let firstHeading: string | undefined;
      const junk: JunkCounts = { merged: 0, dropped: 0 };
      const cleaned = withoutJunk(chunkDocument(blocks, chunking), { minContentChars: config.minChunkContentChars, size: chunking.size }, junk);
      const chunks = tap(cleaned, (chunk) => (firstHeading ??= chunk.heading[0]));
      const batches = lookahead(batchChunks(chunks, config.batchMaxChunks, config.batchMaxChars, chunkChars));
      // Fixed at the first batch, the same on every batch: the tenant's, else the first heading read
      // by then (the batch after it is read ahead), else the file name.
      let title: string | undefined;
      let totalChunks = 0;
      let totalBatches = 0;
      let queued = 0;
      let flushes = 0;
      let yielded = Date.now();
      for await (const { item: chunks, last } of batches) {
        title ??= document.title || firstHeading || (document.source ? path.basename(document.source) : document.id);
        totalChunks += chunks.length;
        totalBatches += 1;
        const batch: UpsertChunkBatch = {
          ...ref,
          op: 'upsert',
          title,
          mimeType: document.mimeType,
          batchIndex: totalBatches - 1,
          chunks: chunks.map(toMessageChunk),
          ...(last ? { totalBatches, totalChunks } : {}),
        };
        context.emit({ topic: topics.chunks, key: ref.tenantId, value: batch });
        queued += chunks.reduce((sum, chunk) => sum + chunkChars(chunk), 0);
        if (!last && queued >= config.flushBytes) {
          // A large document's batches go out as they are made instead of piling up in memory.
          // flush is optional so that contexts without it (older runners, test fakes) still work.
          await context.flush?.();
          queued = 0;
          flushes += 1;
        } else if (Date.now() - yielded > YIELD_EVERY_MS) {
          // Parsing and chunking text is synchronous work: let heartbeats and health checks run.
          await yieldToEventLoop();
          yielded = Date.now();
        }
      }
      const chunked = statusMessage(topics.status, ref, 'chunked', 'fetch', { totalBatches, totalChunks, replayed: message.replayed });
      context.emit({ ...chunked, value: { ...(chunked.value as StatusEvent), chunksMerged: junk.merged, chunksDropped: junk.dropped } satisfies StatusEvent });
      message.logger.info('chunked', {
        version: ref.version,
        mimeType: document.mimeType,
        strategy: chunking.strategy,
        chunks: totalChunks,
        batches: totalBatches,
        flushes,
        smallChunksMerged: junk.merged,
        junkChunksDropped: junk.dropped,
      });
    },
  };
}

/** How long the handler may keep the event loop busy between two turns of it. */
const YIELD_EVERY_MS = 50;

/**
 * The request's chunking over the configured defaults. A request that sets the size but not the
 * overlap gets the configured overlap cut to half its size, so a small size alone stays valid.
 */
export function chunkingFor(defaults: ChunkOptions, requested: ChunkingOptions | undefined): ChunkOptions {
  const size = requested?.size ?? defaults.size;
  const overlap = requested?.overlap ?? Math.min(defaults.overlap, Math.floor(size / 2));
  return validateChunkOptions({ strategy: requested?.strategy ?? defaults.strategy, size, overlap });
}

function toMessageChunk(chunk: TextChunk): UpsertChunkBatch['chunks'][number] {
  return {
    index: chunk.index,
    text: chunk.text,
    hash: contentHash(chunk.text),
    ...(chunk.heading.length > 0 ? { headingPath: [...chunk.heading] } : {}),
    ...(chunk.page === undefined ? {} : { page: chunk.page, pageEnd: chunk.pageEnd ?? chunk.page }),
  };
}

/** What a chunk weighs in a message: its text and its heading path. */
function chunkChars(chunk: TextChunk): number {
  return chunk.text.length + chunk.heading.reduce((sum, title) => sum + title.length + 3, 0);
}

/** Passes items through, showing each to `see` first. */
async function* tap<T>(items: AsyncIterable<T>, see: (item: T) => void): AsyncGenerator<T> {
  for await (const item of items) {
    see(item);
    yield item;
  }
}

/** Yields each item with whether it is the last, reading one item ahead. */
async function* lookahead<T>(items: AsyncIterable<T>): AsyncGenerator<{ item: T; last: boolean }> {
  const iterator = items[Symbol.asyncIterator]();
  try {
    let current = await iterator.next();
    while (current.done !== true) {
      const next = await iterator.next();
      yield { item: current.value, last: next.done === true };
      current = next;
    }
  } finally {
    // Stopped early (an error downstream): let the parser release what it holds (the PDF worker).
    await iterator.return?.();
  }
}
