import path from 'node:path';
import { ConfigError, envEnum, envInt, envOptional, envString, type Env } from '@docintel/core';
import type { VectorStoreConfig } from './index';

/** Where the embedded default keeps its tables when `LANCEDB_DIR` is not set. */
export const DEFAULT_LANCEDB_DIR = path.resolve('.data', 'lancedb');

/**
 * The embedding dimension when `EMBEDDING_DIMENSION` is not set: the embedding provider's default
 * (384 for the local embedder, 768 for Gemini), so the embedder and the store agree without it.
 */
function defaultDimension(env: Env): number {
  return envOptional(env, 'EMBEDDING_PROVIDER') === 'gemini' ? 768 : 384;
}

/**
 * `VECTOR_STORE` (lancedb | pinecone), `EMBEDDING_DIMENSION` (must match the embedder's; 384, or
 * 768 when `EMBEDDING_PROVIDER=gemini`). For lancedb: `LANCEDB_DIR`. For pinecone:
 * `PINECONE_API_KEY` (required), `PINECONE_INDEX_HOST` and/or `PINECONE_INDEX` (one is required;
 * the host skips the name lookup), `PINECONE_TIMEOUT_MS` (30000).
 */
export function loadVectorStoreConfig(env: Env): VectorStoreConfig {
  const kind = envEnum(env, 'VECTOR_STORE', ['lancedb', 'pinecone'] as const, 'lancedb');
  const dimension = envInt(env, 'EMBEDDING_DIMENSION', defaultDimension(env), { min: 8, max: 4_096 });
  if (kind === 'lancedb') {
    return { kind, directory: path.resolve(envString(env, 'LANCEDB_DIR', DEFAULT_LANCEDB_DIR)), dimension };
  }
  const indexHost = envOptional(env, 'PINECONE_INDEX_HOST');
  const indexName = envOptional(env, 'PINECONE_INDEX');
  if (indexHost === undefined && indexName === undefined) throw new ConfigError('PINECONE_INDEX_HOST', 'or PINECONE_INDEX must be set when VECTOR_STORE=pinecone');
  if (indexHost !== undefined && /\s/.test(indexHost)) throw new ConfigError('PINECONE_INDEX_HOST', `must be a host or URL, got "${indexHost}"`);
  return {
    kind,
    apiKey: envString(env, 'PINECONE_API_KEY'),
    ...(indexHost === undefined ? {} : { indexHost }),
    ...(indexName === undefined ? {} : { indexName }),
    dimension,
    timeoutMs: envInt(env, 'PINECONE_TIMEOUT_MS', 30_000, { min: 100, max: 600_000 }),
  };
}
