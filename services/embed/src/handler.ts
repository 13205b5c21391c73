import { envInt, PermanentError, type Env } from '@docintel/core';
import { encodeVector, type ChunkBatch, type UpsertVectorBatch } from '@docintel/contracts';
import type { Queryable } from '@docintel/db';
import { EmbeddingBatcher, type EmbeddingProvider } from '@docintel/embedding';
import { statusMessage, type ServiceDeps, type StageHandler } from '@docintel/service';
import { Counter, type Registry } from 'prom-client';
import type { ParkingLot, TenantBudgets } from './budget';
import { EmbeddingCache } from './cache';
import { estimateTokens } from './quota';

export interface EmbedConfig {
  /** How long a partial provider request waits for more texts. @default 20 ms */
  lingerMs: number;
  /** Messages of one partition batch embedded at once (their texts share provider requests). @default 32 */
  concurrency: number;
}

/** `EMBEDDING_LINGER_MS`, `EMBED_CONCURRENCY`. */
export function loadEmbedConfig(env: Env): EmbedConfig {
  return {
    lingerMs: envInt(env, 'EMBEDDING_LINGER_MS', 20, { min: 0, max: 5_000 }),
    concurrency: envInt(env, 'EMBED_CONCURRENCY', 32, { min: 1, max: 1_000 }),
  };
}

/**
 * embed: turns chunk text into vectors. Cached vectors are reused; the rest go to the provider
 * through one batcher shared by every partition, so chunks from many messages fill each request.
 */
export function createEmbedHandler(
  deps: Pick<ServiceDeps, 'topics' | 'registry'> & { db: Queryable },
  provider: EmbeddingProvider,
  config: EmbedConfig,
  budgets?: { budgets: TenantBudgets; parking: ParkingLot },
): StageHandler<ChunkBatch> {
  const { topics } = deps;
  const metrics = embedMetrics(deps.registry);
  const cache = new EmbeddingCache(deps.db, provider.model, provider.dimension);
  const batcher = new EmbeddingBatcher({
    provider,
    lingerMs: config.lingerMs,
    onRequest: (event) => {
      metrics.requests.inc({ outcome: event.error ? 'error' : 'ok' });
      metrics.texts.inc(event.texts);
    },
  });
  return {
    concurrency: config.concurrency,
    handle: async (message, context) => {
      const batch = message.value;
      if (batch.op === 'delete') {
        context.emit({ topic: topics.vectors, key: batch.tenantId, value: batch });
        return;
      }
      const ref = { tenantId: batch.tenantId, documentId: batch.documentId, version: batch.version };
      const hashes = [...new Set(batch.chunks.map((chunk) => chunk.hash))];
      const vectors = await cache.get(batch.tenantId, hashes);
      const missing = batch.chunks.filter((chunk, i, all) => !vectors.has(chunk.hash) && all.findIndex((c) => c.hash === chunk.hash) === i);
      metrics.cacheHits.inc(batch.chunks.length - missing.length);
      if (missing.length > 0 && budgets) {
        const tokens = missing.reduce((sum, chunk) => sum + estimateTokens(chunk.text), 0);
        const reservation = await budgets.budgets.reserve(batch.tenantId, tokens);
        if (!reservation.ok) {
          // The tenant waits (its status says so) while the partition goes on with other tenants.
          const reason = `tenant ${batch.tenantId} has spent its daily budget of ${reservation.budget} embedding tokens`;
          await budgets.parking.park(topics.chunks, message, reason, reservation.until);
          metrics.parked.inc();
          context.emit(statusMessage(topics.status, ref, 'embedding', 'embed', { waiting: { reason, until: reservation.until }, replayed: message.replayed }));
          message.logger.info('parked until the tenant budget starts again', { until: new Date(reservation.until).toISOString(), tokens });
          return;
        }
      }
      if (missing.length > 0) {
        const fresh = await batcher.embed(missing.map((chunk) => chunk.text), 'document');
        const entries = missing.map((chunk, i) => ({ hash: chunk.hash, vector: fresh[i]! }));
        for (const entry of entries) {
          if (entry.vector.length !== provider.dimension) {
            throw new PermanentError('DIMENSION_MISMATCH', `provider returned ${entry.vector.length} dimensions, expected ${provider.dimension}`);
          }
          vectors.set(entry.hash, entry.vector);
        }
        await cache.put(batch.tenantId, entries);
      }
      const out: UpsertVectorBatch = {
        ...batch,
        model: provider.model,
        dimension: provider.dimension,
        chunks: batch.chunks.map((chunk) => ({ ...chunk, vector: encodeVector(vectors.get(chunk.hash)!) })),
      };
      // One `embedding` event per version is all the status needs; more would only load its topic.
      if (batch.batchIndex === 0) {
        context.emit(statusMessage(topics.status, ref, 'embedding', 'embed', { batch: { index: batch.batchIndex, chunks: batch.chunks.length }, replayed: message.replayed }));
      }
      context.emit({ topic: topics.vectors, key: batch.tenantId, value: out });
    },
    close: async () => {
      await batcher.close();
      await provider.close?.();
    },
  };
}

function embedMetrics(registry: Registry) {
  return {
    requests: new Counter({ name: 'docintel_embedding_requests_total', help: 'Embedding provider requests', labelNames: ['outcome'], registers: [registry] }),
    texts: new Counter({ name: 'docintel_embedding_texts_total', help: 'Texts sent to the embedding provider', registers: [registry] }),
    cacheHits: new Counter({ name: 'docintel_embedding_cache_hits_total', help: 'Chunks whose vector came from the cache', registers: [registry] }),
    parked: new Counter({ name: 'docintel_embedding_parked_total', help: 'Chunk batches set aside until their tenant budget starts again', registers: [registry] }),
  };
}
