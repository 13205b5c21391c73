import { ConfigError, envEnum, envInt, type Env } from '@docintel/core';
import { CHUNK_STRATEGIES } from '@docintel/contracts';
import { DEFAULT_CHUNK_OPTIONS, MAX_CHUNK_TOKENS, MIN_CHUNK_TOKENS, validateChunkOptions, type ChunkOptions } from './chunk';

export interface FetchConfig {
  /** Default chunking when the ingest request names none; sizes in tokens. */
  chunking: ChunkOptions;
  /** Chunks per `document.chunks` message. @default 32 */
  batchMaxChunks: number;
  /** Characters of chunk text per message, to stay well under the broker's 1 MB message limit. @default 200_000 */
  batchMaxChars: number;
  /** Larger documents fail with DOCUMENT_TOO_LARGE. @default 50 MiB */
  maxDocumentBytes: number;
  /**
   * Bytes of chunk text queued by a handler before it sends them (HandlerContext.flush) rather
   * than holding a large document's batches until it is done. @default 1 MiB
   */
  flushBytes: number;
}

/**
 * `CHUNK_STRATEGY` (recursive | fixed), `CHUNK_SIZE` and `CHUNK_OVERLAP` (tokens), `CHUNK_BATCH_SIZE`,
 * `CHUNK_BATCH_MAX_CHARS`, `MAX_DOCUMENT_BYTES`, `FETCH_FLUSH_BYTES`.
 *
 * @throws ConfigError naming the variable
 */
export function loadFetchConfig(env: Env): FetchConfig {
  const strategy = envEnum(env, 'CHUNK_STRATEGY', CHUNK_STRATEGIES, DEFAULT_CHUNK_OPTIONS.strategy);
  const size = envInt(env, 'CHUNK_SIZE', DEFAULT_CHUNK_OPTIONS.size, { min: MIN_CHUNK_TOKENS, max: MAX_CHUNK_TOKENS });
  const overlap = envInt(env, 'CHUNK_OVERLAP', Math.min(DEFAULT_CHUNK_OPTIONS.overlap, Math.floor(size / 2)), { min: 0 });
  if (overlap >= size) throw new ConfigError('CHUNK_OVERLAP', `must be smaller than CHUNK_SIZE (${size}), got ${overlap}`);
  if (strategy === 'fixed' && overlap > size / 2) {
    throw new ConfigError('CHUNK_OVERLAP', `must be at most half of CHUNK_SIZE (${size}) with CHUNK_STRATEGY=fixed, got ${overlap}`);
  }
  return {
    chunking: validateChunkOptions({ strategy, size, overlap }),
    batchMaxChunks: envInt(env, 'CHUNK_BATCH_SIZE', 32, { min: 1, max: 1_000 }),
    batchMaxChars: envInt(env, 'CHUNK_BATCH_MAX_CHARS', 200_000, { min: 1_000, max: 800_000 }),
    maxDocumentBytes: envInt(env, 'MAX_DOCUMENT_BYTES', 50 * 1024 * 1024, { min: 1 }),
    flushBytes: envInt(env, 'FETCH_FLUSH_BYTES', 1024 * 1024, { min: 64 * 1024 }),
  };
}
