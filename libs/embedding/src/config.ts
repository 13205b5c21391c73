import { envEnum, envInt, type Env } from '@docintel/core';
import type { EmbeddingProviderConfig } from './index';

/** `EMBEDDING_PROVIDER` (local), `EMBEDDING_DIMENSION` (384), `EMBEDDING_MAX_BATCH` (100). */
export function loadEmbeddingConfig(env: Env): EmbeddingProviderConfig {
  return {
    provider: envEnum(env, 'EMBEDDING_PROVIDER', ['local'] as const, 'local'),
    dimension: envInt(env, 'EMBEDDING_DIMENSION', 384, { min: 8, max: 4_096 }),
    maxBatchSize: envInt(env, 'EMBEDDING_MAX_BATCH', 100, { min: 1, max: 1_000 }),
  };
}
