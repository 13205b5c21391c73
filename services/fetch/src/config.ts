import { ConfigError, envInt, type Env } from '@docintel/core';
import { validateChunkOptions, type ChunkOptions } from './chunk';

export interface FetchConfig {
  /** Default chunking when the ingest request names none. */
  chunking: ChunkOptions;
  /** Chunks per `document.chunks` message. @default 32 */
  batchMaxChunks: number;
  /** Characters of chunk text per message, to stay well under the broker's 1 MB message limit. @default 200_000 */
  batchMaxChars: number;
  /** Larger documents fail with DOCUMENT_TOO_LARGE. @default 50 MiB */
  maxDocumentBytes: number;
}

/** `CHUNK_SIZE`, `CHUNK_OVERLAP`, `CHUNK_BATCH_SIZE`, `CHUNK_BATCH_MAX_CHARS`, `MAX_DOCUMENT_BYTES`. */
export function loadFetchConfig(env: Env): FetchConfig {
  const size = envInt(env, 'CHUNK_SIZE', 1_000, { min: 50, max: 20_000 });
  const overlap = envInt(env, 'CHUNK_OVERLAP', 150, { min: 0 });
  if (overlap >= size) throw new ConfigError('CHUNK_OVERLAP', `must be smaller than CHUNK_SIZE (${size}), got ${overlap}`);
  return {
    chunking: validateChunkOptions({ size, overlap }),
    batchMaxChunks: envInt(env, 'CHUNK_BATCH_SIZE', 32, { min: 1, max: 1_000 }),
    batchMaxChars: envInt(env, 'CHUNK_BATCH_MAX_CHARS', 200_000, { min: 1_000, max: 800_000 }),
    maxDocumentBytes: envInt(env, 'MAX_DOCUMENT_BYTES', 50 * 1024 * 1024, { min: 1 }),
  };
}
