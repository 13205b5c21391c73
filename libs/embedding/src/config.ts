import { ConfigError, envEnum, envInt, envOptional, envString, type Env } from '@docintel/core';
import { GEMINI_DEFAULT_MAX_INPUT_CHARS, GEMINI_MAX_BATCH_SIZE } from './gemini';
import type { EmbeddingProviderConfig } from './index';

/** The dimension each provider uses when `EMBEDDING_DIMENSION` is not set; the vector store's config agrees. */
export const DEFAULT_DIMENSIONS = { local: 384, gemini: 768 } as const;

/**
 * `EMBEDDING_PROVIDER` (local | gemini), `EMBEDDING_DIMENSION` (384 local, 768 gemini),
 * `EMBEDDING_MAX_BATCH` (100). For gemini: `GEMINI_API_KEY` (required), `GEMINI_MODEL`
 * (gemini-embedding-001), `GEMINI_BASE_URL` (the SDK's), `GEMINI_LONG_TEXT` (truncate | fail),
 * `GEMINI_MAX_INPUT_CHARS` (6963), `GEMINI_TIMEOUT_MS` (30000).
 */
export function loadEmbeddingConfig(env: Env): EmbeddingProviderConfig {
  const provider = envEnum(env, 'EMBEDDING_PROVIDER', ['local', 'gemini'] as const, 'local');
  if (provider === 'local') {
    return {
      provider,
      dimension: envInt(env, 'EMBEDDING_DIMENSION', DEFAULT_DIMENSIONS.local, { min: 8, max: 4_096 }),
      maxBatchSize: envInt(env, 'EMBEDDING_MAX_BATCH', 100, { min: 1, max: 1_000 }),
    };
  }
  const baseUrl = envOptional(env, 'GEMINI_BASE_URL');
  if (baseUrl !== undefined && !/^https?:\/\/[^\s/]+/.test(baseUrl)) throw new ConfigError('GEMINI_BASE_URL', `must be an http(s) URL, got "${baseUrl}"`);
  return {
    provider,
    apiKey: envString(env, 'GEMINI_API_KEY'),
    model: envString(env, 'GEMINI_MODEL', 'gemini-embedding-001'),
    dimension: envInt(env, 'EMBEDDING_DIMENSION', DEFAULT_DIMENSIONS.gemini, { min: 8, max: 3_072 }),
    maxBatchSize: envInt(env, 'EMBEDDING_MAX_BATCH', GEMINI_MAX_BATCH_SIZE, { min: 1, max: GEMINI_MAX_BATCH_SIZE }),
    ...(baseUrl === undefined ? {} : { baseUrl }),
    longText: envEnum(env, 'GEMINI_LONG_TEXT', ['truncate', 'fail'] as const, 'truncate'),
    maxInputChars: envInt(env, 'GEMINI_MAX_INPUT_CHARS', GEMINI_DEFAULT_MAX_INPUT_CHARS, { min: 100, max: 100_000 }),
    timeoutMs: envInt(env, 'GEMINI_TIMEOUT_MS', 30_000, { min: 100, max: 600_000 }),
  };
}
