import path from 'node:path';
import { envEnum, envInt, envString, type Env } from '@docintel/core';
import type { VectorStoreConfig } from './index';

/** Where the embedded default keeps its tables when `LANCEDB_DIR` is not set. */
export const DEFAULT_LANCEDB_DIR = path.resolve('.data', 'lancedb');

/** `VECTOR_STORE` (lancedb), `LANCEDB_DIR`, `EMBEDDING_DIMENSION` (must match the embedder's). */
export function loadVectorStoreConfig(env: Env): VectorStoreConfig {
  const kind = envEnum(env, 'VECTOR_STORE', ['lancedb'] as const, 'lancedb');
  return {
    kind,
    directory: path.resolve(envString(env, 'LANCEDB_DIR', DEFAULT_LANCEDB_DIR)),
    dimension: envInt(env, 'EMBEDDING_DIMENSION', 384, { min: 8, max: 4_096 }),
  };
}
