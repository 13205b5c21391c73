import { PermanentError } from '@docintel/core';
import { decodeVector, vectorId, type VectorBatch } from '@docintel/contracts';
import type { Queryable } from '@docintel/db';
import { statusMessage, type ServiceDeps, type StageHandler } from '@docintel/service';
import type { VectorRecord, VectorStore } from '@docintel/vectorstore';
import { markCompleted, markDeletedVersion, readVersions, recordBatch } from './ledger';

/**
 * store: writes each batch's vectors into the tenant's namespace under ids derived from
 * (document, version, chunk index). When the last batch of a version is in, the older versions'
 * vectors are deleted: the document is never without vectors while an update is in flight.
 */
export function createStoreHandler(
  deps: Pick<ServiceDeps, 'topics'> & { db: Queryable },
  store: VectorStore,
  dimension: number,
): StageHandler<VectorBatch> {
  const { topics, db } = deps;
  return {
    handle: async (message, context) => {
      const batch = message.value;
      const ref = { tenantId: batch.tenantId, documentId: batch.documentId, version: batch.version };
      const namespace = batch.tenantId;
      const versions = await readVersions(db, batch.tenantId, batch.documentId);

      if (batch.op === 'delete') {
        // Versions up to the delete's own: a replayed old delete must not remove a newer version.
        const deleted = await store.deleteDocument(namespace, batch.documentId, batch.version + 1);
        await markDeletedVersion(db, batch.tenantId, batch.documentId, batch.version);
        context.emit(statusMessage(topics.status, ref, 'deleted', 'store', { replayed: message.replayed }));
        message.logger.info('deleted document vectors', { deleted });
        return;
      }
      if ((versions.deletedVersion ?? 0) >= batch.version || (versions.completedVersion ?? 0) > batch.version) {
        // A delete or a newer complete version came first; writing these would resurrect stale vectors.
        message.logger.info('skipping a superseded batch', { ...versions, batchIndex: batch.batchIndex });
        return;
      }

      const records: VectorRecord[] = batch.chunks.map((chunk) => {
        const vector = decodeVector(chunk.vector);
        if (vector.length !== dimension) {
          throw new PermanentError(
            'DIMENSION_MISMATCH',
            `chunk ${chunk.index} has a vector of ${vector.length} dimensions; the vector store holds ${dimension} (model ${batch.model})`,
          );
        }
        return {
          id: vectorId(batch.documentId, batch.version, chunk.index),
          documentId: batch.documentId,
          version: batch.version,
          chunkIndex: chunk.index,
          text: chunk.text,
          title: batch.title,
          contentHash: chunk.hash,
          vector,
          // Chunk metadata from fetch, shown by search; older messages have none.
          ...(chunk.page === undefined ? {} : { page: chunk.page, pageEnd: chunk.pageEnd ?? chunk.page }),
          ...(chunk.headingPath === undefined ? {} : { headingPath: chunk.headingPath }),
        };
      });
      await store.upsert(namespace, records);
      const progress = await recordBatch(db, { ...ref, batchIndex: batch.batchIndex, chunks: records.length, totalBatches: batch.totalBatches });
      context.emit(statusMessage(topics.status, ref, 'storing', 'store', { batch: { index: batch.batchIndex, chunks: records.length }, replayed: message.replayed }));
      if (progress.complete) {
        const removed = await store.deleteDocument(namespace, batch.documentId, batch.version);
        await markCompleted(db, batch.tenantId, batch.documentId, batch.version);
        context.emit(
          statusMessage(topics.status, ref, 'completed', 'store', {
            totalChunks: progress.totalChunks,
            totalBatches: progress.totalBatches ?? undefined,
            replayed: message.replayed,
          }),
        );
        message.logger.info('version complete', { version: batch.version, chunks: progress.totalChunks, staleVectorsRemoved: removed });
      }
    },
    close: () => store.close(),
  };
}
