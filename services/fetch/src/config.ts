import { ConfigError, envEnum, envInt, type Env } from '@docintel/core';
import { CHUNK_STRATEGIES } from '@docintel/contracts';
import { DEFAULT_CHUNK_OPTIONS, MAX_CHUNK_TOKENS, MIN_CHUNK_TOKENS, validateChunkOptions, type ChunkOptions } from './chunk';
import { DEFAULT_MIN_CHUNK_CONTENT_CHARS } from './junk';
import { DEFAULT_DOCUMENT_LIMITS, DEFAULT_PARSE_POOL, type DocumentLimits, type ParsePoolOptions } from './limits';

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
  /** The parse processes of PDF, DOCX and HTML, and their limits. */
  parsePool: ParsePoolOptions;
  /** What parsing one document may make of it. */
  limits: DocumentLimits;
  /**
   * Letters and digits a chunk needs to be indexed on its own: a smaller one is merged into a
   * neighbour, and chunks of page numbers or without letters and digits are dropped (junk.ts);
   * 0 turns that off. @default 16
   */
  minChunkContentChars: number;
}

/**
 * `CHUNK_STRATEGY` (recursive | fixed), `CHUNK_SIZE` and `CHUNK_OVERLAP` (tokens), `CHUNK_BATCH_SIZE`,
 * `CHUNK_BATCH_MAX_CHARS`, `MAX_DOCUMENT_BYTES`, `FETCH_FLUSH_BYTES`; the parse processes'
 * `PARSE_WORKERS`, `PARSE_MEMORY_MB`, `PARSE_TIMEOUT_MS`; and `MAX_EXTRACTED_CHARS`,
 * `MAX_DECOMPRESSED_BYTES`, `MAX_DECOMPRESSION_RATIO` (see limits.ts); `MIN_CHUNK_CONTENT_CHARS`
 * (see junk.ts).
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
    parsePool: {
      workers: envInt(env, 'PARSE_WORKERS', DEFAULT_PARSE_POOL.workers, { min: 1, max: 64 }),
      // An idle parse process takes about 110 MB: less than this leaves nothing to parse with.
      memoryMb: envInt(env, 'PARSE_MEMORY_MB', DEFAULT_PARSE_POOL.memoryMb, { min: 160 }),
      timeoutMs: envInt(env, 'PARSE_TIMEOUT_MS', DEFAULT_PARSE_POOL.timeoutMs, { min: 100 }),
    },
    limits: {
      maxExtractedChars: envInt(env, 'MAX_EXTRACTED_CHARS', DEFAULT_DOCUMENT_LIMITS.maxExtractedChars, { min: 1 }),
      maxDecompressedBytes: envInt(env, 'MAX_DECOMPRESSED_BYTES', DEFAULT_DOCUMENT_LIMITS.maxDecompressedBytes, { min: 1 }),
      maxDecompressionRatio: envInt(env, 'MAX_DECOMPRESSION_RATIO', DEFAULT_DOCUMENT_LIMITS.maxDecompressionRatio, { min: 1 }),
    },
    minChunkContentChars: envInt(env, 'MIN_CHUNK_CONTENT_CHARS', DEFAULT_MIN_CHUNK_CONTENT_CHARS, { min: 0, max: 1_000 }),
  };
}
