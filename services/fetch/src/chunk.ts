import { PermanentError } from '@docintel/core';
import { CHUNK_STRATEGIES, type ChunkStrategy } from '@docintel/contracts';
import type { Block } from './blocks';
import { fixedChunks } from './fixed';
import { recursiveChunks } from './recursive';

export type { ChunkStrategy } from '@docintel/contracts';

/**
 * How {@link chunkDocument} cuts a document. Sizes are in tokens by the approximation of
 * tokens.ts: about 4 characters of Latin-script text, or 1 CJK character, per token.
 */
export interface ChunkOptions {
  /** `recursive`: by structure (headings, paragraphs, lines, sentences, words); `fixed`: windows of whole words across the document. @default 'recursive' */
  strategy: ChunkStrategy;
  /** Largest chunk, in tokens. From 16 to 20,000. @default 256 */
  size: number;
  /** Tokens a chunk repeats from the end of the one before; below `size` (at most half of it for `fixed`). @default 32 */
  overlap: number;
}

export const DEFAULT_CHUNK_OPTIONS: Readonly<ChunkOptions> = Object.freeze({
  strategy: 'recursive',
  size: 256, // about 1,000 characters of English prose: a few paragraphs, well under embedding models' input limits
  overlap: 32,
} satisfies ChunkOptions);

/** Smallest accepted `size`: anything less cuts most sentences into fragments. */
export const MIN_CHUNK_TOKENS = 16;
/** Largest accepted `size`; the same bound as the message schema's. */
export const MAX_CHUNK_TOKENS = 20_000;

/** One piece of a document, ready to embed. */
export interface TextChunk {
  /** 0-based position across the whole document, without gaps. */
  index: number;
  text: string;
  /** Heading path of the section the chunk starts in; `[]` before the first heading. */
  heading: readonly string[];
  /** 1-based page the chunk starts on, for formats with pages (PDF). */
  page?: number;
  /** 1-based page the chunk ends on, set with `page`. */
  pageEnd?: number;
}

/**
 * Fills in defaults and checks the options.
 *
 * @throws PermanentError `INVALID_OPTIONS` naming the field, when `strategy` is unknown, `size`
 *   is not a whole number from 16 to 20,000, or `overlap` is not a whole number with
 *   `0 <= overlap < size` (and `overlap <= size / 2` for `fixed`, whose windows would otherwise
 *   multiply the document's text many times over)
 */
export function validateChunkOptions(o: Partial<ChunkOptions>): ChunkOptions {
  const strategy = o.strategy ?? DEFAULT_CHUNK_OPTIONS.strategy;
  const size = o.size ?? DEFAULT_CHUNK_OPTIONS.size;
  const overlap = o.overlap ?? DEFAULT_CHUNK_OPTIONS.overlap;
  const invalid = (field: string, rule: string, value: unknown) =>
    new PermanentError('INVALID_OPTIONS', `chunk option ${field} must be ${rule}, got ${String(value)}`, { details: { field } });
  if (!CHUNK_STRATEGIES.includes(strategy)) throw invalid('strategy', `one of ${CHUNK_STRATEGIES.join(', ')}`, strategy);
  if (!Number.isInteger(size) || size < MIN_CHUNK_TOKENS || size > MAX_CHUNK_TOKENS) {
    throw invalid('size', `a whole number of tokens from ${MIN_CHUNK_TOKENS} to ${MAX_CHUNK_TOKENS}`, size);
  }
  if (!Number.isInteger(overlap) || overlap < 0) throw invalid('overlap', 'a whole number of at least 0', overlap);
  if (overlap >= size) throw invalid('overlap', `smaller than size (${size})`, overlap);
  if (strategy === 'fixed' && overlap > size / 2) throw invalid('overlap', `at most half the size (${size}) with the fixed strategy`, overlap);
  return { strategy, size, overlap };
}

/**
 * Cuts a document's blocks into chunks of at most `options.size` tokens, lazily: blocks are read
 * only as far as the chunk being made, so a large document is chunked while it is parsed and
 * its batches can be sent before the rest is read. The output depends only on the input, byte
 * for byte: chunk hashes key the embedding cache.
 *
 * @throws PermanentError `INVALID_OPTIONS` (on the first `next()`) for options
 *   {@link validateChunkOptions} rejects
 */
export async function* chunkDocument(blocks: AsyncIterable<Block> | Iterable<Block>, options: ChunkOptions): AsyncGenerator<TextChunk> {
  const valid = validateChunkOptions(options);
  yield* valid.strategy === 'fixed' ? fixedChunks(blocks, valid) : recursiveChunks(blocks, valid);
}

/**
 * Groups items into batches of at most `maxItems` items whose `sizeOf` adds up to at most
 * `maxChars`; an item larger than `maxChars` by itself forms a batch of its own. Reads the input
 * only as far as the batch being built, so a generator upstream is never materialised.
 *
 * @throws PermanentError `INVALID_OPTIONS` (on the first `next()`) when `maxItems` or `maxChars`
 *   is not a whole number of at least 1
 */
export async function* batchChunks<T>(chunks: AsyncIterable<T> | Iterable<T>, maxItems: number, maxChars: number, sizeOf: (t: T) => number): AsyncGenerator<T[]> {
  for (const [field, value] of [['maxItems', maxItems], ['maxChars', maxChars]] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new PermanentError('INVALID_OPTIONS', `batch option ${field} must be a whole number of at least 1, got ${value}`, { details: { field } });
    }
  }
  let batch: T[] = [];
  let chars = 0;
  for await (const item of chunks) {
    const itemChars = sizeOf(item);
    if (batch.length > 0 && (batch.length >= maxItems || chars + itemChars > maxChars)) {
      yield batch;
      batch = [];
      chars = 0;
    }
    batch.push(item);
    chars += itemChars;
  }
  if (batch.length > 0) yield batch;
}
