import path from 'node:path';
import { PermanentError, TransientError } from '@docintel/core';
import { contentHash, type IngestRequest, type UpsertChunkBatch } from '@docintel/contracts';
import { getDocument, type Queryable } from '@docintel/db';
import type { ConsumedMessage, HandlerContext } from '@docintel/kafka';
import { statusMessage, type ServiceDeps, type StageHandler } from '@docintel/service';
import { batchChunks, chunkDocument, validateChunkOptions, type TextChunk } from './chunk';
import type { FetchConfig } from './config';
import { parseDocument, titleOf } from './parse';

/**
 * fetch: reads the document row, checks it belongs to the message's tenant, parses and chunks it,
 * and emits the chunks in batches; the last batch carries the totals.
 */
export function createFetchHandler(deps: Pick<ServiceDeps, 'topics'> & { db: Queryable }, config: FetchConfig): StageHandler<IngestRequest> {
  const { topics, db } = deps;
  return {
    handle: async (message: ConsumedMessage<IngestRequest>, context: HandlerContext) => {
      const request = message.value;
      const document = await getDocument(db, request.documentId);
      if (document && document.tenantId !== request.tenantId) {
        // Say nothing about the owner: the message's tenant must not learn whose document it is.
        throw new PermanentError('TENANT_MISMATCH', `document "${request.documentId}" does not belong to tenant "${request.tenantId}"`);
      }
      const ref = { tenantId: request.tenantId, documentId: request.documentId, version: request.version };
      if (request.op === 'delete') {
        // A delete only touches the tenant's own namespace, so it passes on even when the row is gone.
        context.emit({ topic: topics.chunks, key: ref.tenantId, value: { ...ref, op: 'delete', version: Math.max(request.version, document?.version ?? 0) } });
        return;
      }
      if (!document) {
        throw new PermanentError('DOCUMENT_NOT_FOUND', `document "${request.documentId}" does not exist`);
      }
      if (document.version > request.version || document.deletedAt !== null) {
        message.logger.info('skipping a superseded version', { requested: request.version, current: document.version, deleted: document.deletedAt !== null });
        return;
      }
      if (document.version < request.version) {
        // The tenant's application produced the message before its database write was visible.
        throw new TransientError('DOCUMENT_NOT_READY', `document "${request.documentId}" is at version ${document.version}, the message names ${request.version}`);
      }

      context.emit(statusMessage(topics.status, ref, 'fetching', 'fetch', { replayed: message.replayed }));
      const chunking = validateChunkOptions({ ...config.chunking, ...request.chunking });
      const parsed = parseDocument(document.content, document.mimeType, { maxBytes: config.maxDocumentBytes });
      const title = document.title || titleOf(parsed, document.source ? path.basename(document.source) : document.id);
      const batches = lookahead(batchChunks(chunkDocument(parsed, chunking), config.batchMaxChunks, config.batchMaxChars, (c: TextChunk) => c.text.length));
      let totalChunks = 0;
      let totalBatches = 0;
      for (const { item: chunks, last } of batches) {
        totalChunks += chunks.length;
        totalBatches += 1;
        const batch: UpsertChunkBatch = {
          ...ref,
          op: 'upsert',
          title,
          mimeType: document.mimeType,
          batchIndex: totalBatches - 1,
          chunks: chunks.map((chunk) => ({ index: chunk.index, text: chunk.text, hash: contentHash(chunk.text) })),
          ...(last ? { totalBatches, totalChunks } : {}),
        };
        context.emit({ topic: topics.chunks, key: ref.tenantId, value: batch });
      }
      context.emit(statusMessage(topics.status, ref, 'chunked', 'fetch', { totalBatches, totalChunks, replayed: message.replayed }));
      message.logger.info('chunked', { version: ref.version, chunks: totalChunks, batches: totalBatches });
    },
  };
}

/** Yields each item with whether it is the last, reading one item ahead. */
function* lookahead<T>(items: Iterable<T>): Generator<{ item: T; last: boolean }> {
  const iterator = items[Symbol.iterator]();
  let current = iterator.next();
  while (!current.done) {
    const next = iterator.next();
    yield { item: current.value, last: next.done === true };
    current = next;
  }
}
