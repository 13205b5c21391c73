import { PermanentError } from '@docintel/core';
import { type ParsedDocument } from './parse';

/** How {@link chunkDocument} cuts a document. Lengths are in UTF-16 code units (JS string length). */
export interface ChunkOptions {
  /** Largest chunk, in characters. At least 50. @default 1000 */
  size: number;
  /** Characters a chunk repeats from the end of the previous chunk of its section; below `size`. @default 150 */
  overlap: number;
}

export const DEFAULT_CHUNK_OPTIONS: Readonly<ChunkOptions> = Object.freeze({
  size: 1000, // about 250 tokens of English prose
  overlap: 150,
} satisfies ChunkOptions);

/** Smallest accepted `size`: anything less cuts most sentences into fragments. */
const MIN_SIZE = 50;

/** One piece of a document, ready to embed. */
export interface TextChunk {
  /** 0-based position across the whole document, without gaps. */
  index: number;
  text: string;
  /** Heading path of the section the chunk comes from. */
  heading: string[];
}

/**
 * Fills in defaults and checks the options.
 *
 * @throws PermanentError `INVALID_OPTIONS` naming the field, when `size` is not a whole number
 *   of at least 50, or `overlap` is not a whole number with `0 <= overlap < size`
 */
export function validateChunkOptions(o: Partial<ChunkOptions>): ChunkOptions {
  const size = o.size ?? DEFAULT_CHUNK_OPTIONS.size;
  const overlap = o.overlap ?? DEFAULT_CHUNK_OPTIONS.overlap;
  const invalid = (field: string, rule: string, value: number) =>
    new PermanentError('INVALID_OPTIONS', `chunk option ${field} must be ${rule}, got ${value}`, { details: { field } });
  if (!Number.isInteger(size) || size < MIN_SIZE) throw invalid('size', `a whole number of at least ${MIN_SIZE}`, size);
  if (!Number.isInteger(overlap) || overlap < 0) throw invalid('overlap', 'a whole number of at least 0', overlap);
  if (overlap >= size) throw invalid('overlap', `smaller than size (${size})`, overlap);
  return { size, overlap };
}

/**
 * Cuts a parsed document into chunks of at most `options.size` characters, lazily, so a large
 * document can be sent on in batches while the rest is still being cut.
 *
 * Each section is split at paragraphs, then lines, then sentences, then words, and only a single
 * over-long word is cut at a character; neighbouring pieces are merged back up to `size`. A chunk
 * never crosses a section boundary and is never empty or padded with whitespace. Every chunk after
 * the first of a section begins with about `overlap` characters from the end of the previous one,
 * starting at a word (none when that end has no space in it: a cut word, CJK text). The output
 * depends only on the input, byte for byte: chunk hashes key the embedding cache.
 *
 * @throws PermanentError `INVALID_OPTIONS` (on the first `next()`) for options
 *   {@link validateChunkOptions} rejects
 */
export function* chunkDocument(parsed: ParsedDocument, options: ChunkOptions): Generator<TextChunk> {
  const { size, overlap } = validateChunkOptions(options);
  // Pieces are kept small enough that a full overlap still fits in front of any one of them; for
  // an overlap above half the size that would make pieces tiny, so the overlap shrinks instead.
  const pieceBudget = Math.max(size - overlap - 2, Math.ceil(size / 2));
  let index = 0;
  for (const section of parsed.sections) {
    const text = section.text.trim();
    if (text === '') continue;
    for (const chunk of mergePieces(pieces(text, '', pieceBudget, 0), size, overlap)) {
      yield { index: index++, text: chunk, heading: [...section.heading] };
    }
  }
}

/**
 * Groups items into batches of at most `maxItems` items whose `sizeOf` adds up to at most
 * `maxChars`; an item larger than `maxChars` by itself forms a batch of its own. Reads the input
 * only as far as the batch being built, so a generator upstream is never materialised.
 *
 * @throws PermanentError `INVALID_OPTIONS` (on the first `next()`) when `maxItems` or `maxChars`
 *   is not a whole number of at least 1
 */
export function* batchChunks<T>(chunks: Iterable<T>, maxItems: number, maxChars: number, sizeOf: (t: T) => number): Generator<T[]> {
  for (const [field, value] of [['maxItems', maxItems], ['maxChars', maxChars]] as const) {
    if (!Number.isInteger(value) || value < 1) {
      throw new PermanentError('INVALID_OPTIONS', `batch option ${field} must be a whole number of at least 1, got ${value}`, { details: { field } });
    }
  }
  let batch: T[] = [];
  let chars = 0;
  for (const item of chunks) {
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

/** A run of text that is never split further, and the whitespace that preceded it in the section. */
interface Piece {
  text: string;
  sep: string;
}

// Split points from coarsest to finest; each separator is kept so merged text reads as the source.
const LEVELS: readonly RegExp[] = [
  /\n\s*\n/g, // paragraphs
  /\n/g, // lines: list items, table rows, code
  // sentences: a terminator and space, or a CJK terminator, which takes no space after it
  /(?<=[.!?…]['"’”)\]]{0,3})\s+|(?<=[。！？])(?=\S)/g,
  /\s+/g, // words
];

function* pieces(text: string, sep: string, budget: number, level: number): Generator<Piece> {
  if (text.length <= budget) {
    const trimmed = text.trim();
    if (trimmed !== '') yield { text: trimmed, sep };
    return;
  }
  const splitter = LEVELS[level];
  if (splitter === undefined) {
    yield* hardCut(text, sep, budget);
    return;
  }
  let start = 0;
  let before = sep;
  // matchAll walks lazily: a 2 MB paragraph-free text is never turned into one big array.
  for (const match of text.matchAll(splitter)) {
    yield* pieces(text.slice(start, match.index), before, budget, level + 1);
    before = match[0];
    start = match.index + match[0].length;
  }
  yield* pieces(text.slice(start), before, budget, level + 1);
}

/** Cuts a single word longer than the budget, never between the two halves of a surrogate pair. */
function* hardCut(word: string, sep: string, budget: number): Generator<Piece> {
  let start = 0;
  while (start < word.length) {
    let end = Math.min(start + budget, word.length);
    if (end < word.length && isHighSurrogate(word.charCodeAt(end - 1)) && end - 1 > start) end--;
    yield { text: word.slice(start, end), sep: start === 0 ? sep : '' };
    start = end;
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** Greedily packs pieces into chunks of at most `size`, each new chunk led by an overlap. */
function* mergePieces(source: Iterable<Piece>, size: number, overlap: number): Generator<string> {
  let current: string | undefined;
  for (const piece of source) {
    if (current === undefined) {
      current = piece.text;
    } else if (current.length + piece.sep.length + piece.text.length <= size) {
      current += piece.sep + piece.text;
    } else {
      yield current;
      const tail = overlapTail(current, Math.min(overlap, size - piece.sep.length - piece.text.length));
      current = tail === '' ? piece.text : tail + piece.sep + piece.text;
    }
  }
  if (current !== undefined) yield current;
}

/**
 * The longest end of `chunk` of at most `max` characters that starts at a word, and is not the
 * whole chunk; '' when there is none.
 */
function overlapTail(chunk: string, max: number): string {
  if (max <= 0) return '';
  for (let i = Math.max(1, chunk.length - max); i < chunk.length; i++) {
    if (/\s/.test(chunk[i - 1]!) && !/\s/.test(chunk[i]!)) return chunk.slice(i);
  }
  return '';
}
