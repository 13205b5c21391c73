import { pagesOf, sameHeading, type Block } from './blocks';
import type { ChunkOptions, TextChunk } from './chunk';
import { UNITS_PER_TOKEN, unitsOf, unitsOfCode } from './tokens';

/** A run of text that is never split further, the whitespace that preceded it, its size and page. */
interface Piece {
  text: string;
  sep: string;
  /** Size in quarter tokens (see tokens.ts). */
  units: number;
  page: number | undefined;
}

/**
 * The `recursive` strategy: a chunk never crosses a heading. Each section is split at paragraphs,
 * then lines, then sentences, then words, and only a single over-long word is cut at a
 * character; neighbouring pieces are merged back up to the size. Every chunk after the first of
 * a section begins with about `overlap` tokens from the end of the previous one, starting at a
 * word (none when that end has no space in it: a cut word, CJK text). A chunk is never empty or
 * padded with whitespace.
 */
export async function* recursiveChunks(blocks: AsyncIterable<Block> | Iterable<Block>, options: ChunkOptions): AsyncGenerator<TextChunk> {
  const size = options.size * UNITS_PER_TOKEN;
  const overlap = options.overlap * UNITS_PER_TOKEN;
  // Pieces are kept small enough that a full overlap (and a separator) still fits in front of any
  // one of them; for an overlap above half the size that would make pieces tiny, so the overlap
  // shrinks instead.
  const budget = Math.max(size - overlap - 2, Math.ceil(size / 2));
  let index = 0;
  let section: Section | undefined;
  for await (const block of blocks) {
    if (section === undefined || !sameHeading(section.heading, block.heading)) {
      if (section) for (const chunk of section.finish()) yield { index: index++, ...chunk };
      section = new Section(block.heading, size, overlap);
    }
    for (const piece of pieces(block.text, block.sep, budget, 0, block.page)) {
      for (const chunk of section.add(piece)) yield { index: index++, ...chunk };
    }
  }
  if (section) for (const chunk of section.finish()) yield { index: index++, ...chunk };
}

// Split points from coarsest to finest; each separator is kept so merged text reads as the source.
const LEVELS: readonly RegExp[] = [
  /\n\s*\n/g, // paragraphs
  /\n/g, // lines: list items, table rows, code
  // sentences: a terminator and space, or a CJK terminator, which takes no space after it
  /(?<=[.!?…]['"’”)\]]{0,3})\s+|(?<=[。！？])(?=\S)/g,
  /\s+/g, // words
];

function* pieces(text: string, sep: string, budget: number, level: number, page: number | undefined): Generator<Piece> {
  const units = unitsOf(text);
  if (units <= budget) {
    const trimmed = text.trim();
    if (trimmed !== '') yield { text: trimmed, sep, units: trimmed.length === text.length ? units : unitsOf(trimmed), page };
    return;
  }
  const splitter = LEVELS[level];
  if (splitter === undefined) {
    yield* hardCut(text, sep, budget, page);
    return;
  }
  let start = 0;
  let before = sep;
  // matchAll walks lazily: a long paragraph-free text is never turned into one big array.
  for (const match of text.matchAll(splitter)) {
    yield* pieces(text.slice(start, match.index), before, budget, level + 1, page);
    before = match[0];
    start = match.index + match[0].length;
  }
  yield* pieces(text.slice(start), before, budget, level + 1, page);
}

/** Cuts a single word larger than the budget, never between the two halves of a surrogate pair. */
function* hardCut(word: string, sep: string, budget: number, page: number | undefined): Generator<Piece> {
  let start = 0;
  while (start < word.length) {
    let end = start;
    let units = 0;
    while (end < word.length && units + unitsOfCode(word.charCodeAt(end)) <= budget) units += unitsOfCode(word.charCodeAt(end++));
    if (end === start) units += unitsOfCode(word.charCodeAt(end++)); // a budget below one character still moves on
    if (end < word.length && isHighSurrogate(word.charCodeAt(end - 1)) && end - 1 > start) units -= unitsOfCode(word.charCodeAt(--end));
    yield { text: word.slice(start, end), sep: start === 0 ? sep : '', units, page };
    start = end;
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** Greedily packs one section's pieces into chunks of at most `size` units, each new chunk led by an overlap. */
class Section {
  readonly heading: readonly string[];
  readonly #size: number;
  readonly #overlap: number;
  #text: string | undefined;
  #units = 0;
  /** Where each piece of the chunk being built starts in it, and its page. */
  #marks: { at: number; page: number | undefined }[] = [];

  constructor(heading: readonly string[], size: number, overlap: number) {
    this.heading = heading;
    this.#size = size;
    this.#overlap = overlap;
  }

  *add(piece: Piece): Generator<Omit<TextChunk, 'index'>> {
    const sepUnits = unitsOf(piece.sep);
    if (this.#text === undefined) {
      this.#start(piece.text, piece.units, piece.page);
    } else if (this.#units + sepUnits + piece.units <= this.#size) {
      this.#marks.push({ at: this.#text.length + piece.sep.length, page: piece.page });
      this.#text += piece.sep + piece.text;
      this.#units += sepUnits + piece.units;
    } else {
      yield this.#chunk(this.#text);
      const tail = overlapTail(this.#text, Math.min(this.#overlap, this.#size - sepUnits - piece.units));
      if (tail === '') {
        this.#start(piece.text, piece.units, piece.page);
      } else {
        const from = this.#text.length - tail.length;
        const tailPage = this.#marks.findLast((mark) => mark.at <= from)?.page;
        this.#text = tail + piece.sep + piece.text;
        this.#units = unitsOf(tail) + sepUnits + piece.units;
        this.#marks = [{ at: 0, page: tailPage }, { at: tail.length + piece.sep.length, page: piece.page }];
      }
    }
  }

  *finish(): Generator<Omit<TextChunk, 'index'>> {
    if (this.#text !== undefined) yield this.#chunk(this.#text);
    this.#text = undefined;
  }

  #start(text: string, units: number, page: number | undefined): void {
    this.#text = text;
    this.#units = units;
    this.#marks = [{ at: 0, page }];
  }

  #chunk(text: string): Omit<TextChunk, 'index'> {
    return { text, heading: this.heading, ...pagesOf(this.#marks[0]?.page, this.#marks.at(-1)?.page) };
  }
}

/**
 * The longest end of `chunk` of at most `max` units that starts at a word, and is not the whole
 * chunk; '' when there is none.
 */
function overlapTail(chunk: string, max: number): string {
  if (max <= 0) return '';
  let start = chunk.length;
  let units = 0;
  while (start > 0 && units + unitsOfCode(chunk.charCodeAt(start - 1)) <= max) units += unitsOfCode(chunk.charCodeAt(--start));
  for (let i = Math.max(1, start); i < chunk.length; i++) {
    if (/\s/.test(chunk[i - 1]!) && !/\s/.test(chunk[i]!)) return chunk.slice(i);
  }
  return '';
}
