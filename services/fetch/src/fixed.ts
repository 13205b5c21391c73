import { pagesOf, type Block } from './blocks';
import type { ChunkOptions, TextChunk } from './chunk';
import { UNITS_PER_TOKEN, unitsOf, unitsOfCode } from './tokens';

/**
 * Words longer than this many quarter tokens (32 Latin characters, 8 CJK characters) are cut
 * into fragments of this size, so that text without spaces (CJK, long URLs, base64) still moves
 * through the windows in small steps, as a real tokenizer's tokens would.
 */
const FRAGMENT_UNITS = 32;

interface Word {
  /** The whitespace before the word in the source ('' inside a cut word). */
  sep: string;
  sepUnits: number;
  text: string;
  units: number;
  heading: readonly string[];
  page: number | undefined;
}

/**
 * The `fixed` strategy: windows of `size` tokens that slide over the whole document, headings and
 * pages included, each starting with the last (at most) `overlap` tokens of the one before. A
 * window holds whole words (see {@link FRAGMENT_UNITS}) and keeps the source's whitespace between
 * them; its heading is the one its first word is under, its pages the first and last word's.
 */
export async function* fixedChunks(blocks: AsyncIterable<Block> | Iterable<Block>, options: ChunkOptions): AsyncGenerator<TextChunk> {
  const size = options.size * UNITS_PER_TOKEN;
  const overlap = options.overlap * UNITS_PER_TOKEN;
  const window = new Window();
  /** Whether the window holds words that no chunk has had yet (every word pushed is one). */
  let fresh = false;
  let index = 0;
  for await (const block of blocks) {
    for (const word of wordsOf(block)) {
      if (!window.empty && window.units + word.sepUnits + word.units > size) {
        yield { index: index++, ...window.chunk() };
        while (!window.empty && window.units > overlap) window.drop();
        // With a long next word even the overlap may not leave room for it.
        while (!window.empty && window.units + word.sepUnits + word.units > size) window.drop();
        window.compact();
      }
      window.push(word);
      fresh = true;
    }
  }
  if (fresh) yield { index, ...window.chunk() };
}

/**
 * The words of the window being filled, and their size. A class rather than closures over local
 * variables: V8's Maglev compiler in Node 24.21 miscompiled the closure version (a dropped word
 * read as undefined after a few hundred windows; correct with --no-maglev or --jitless).
 */
class Window {
  /** The window is words[head..]; dropped words are spliced off once per chunk, not one at a time. */
  #words: Word[] = [];
  #head = 0;
  /** Units of the window: its words, and the separators between them. */
  units = 0;

  get empty(): boolean {
    return this.#head >= this.#words.length;
  }

  push(word: Word): void {
    this.units += (this.empty ? 0 : word.sepUnits) + word.units;
    this.#words.push(word);
  }

  /** Drops the first word; the next one's separator no longer counts. */
  drop(): void {
    const first = this.#words[this.#head]!;
    this.#head += 1;
    const next = this.#words[this.#head];
    this.units -= first.units + (next === undefined ? 0 : next.sepUnits);
  }

  compact(): void {
    this.#words = this.#words.slice(this.#head);
    this.#head = 0;
  }

  chunk(): Omit<TextChunk, 'index'> {
    const words = this.#words;
    const first = words[this.#head]!;
    let text = first.text;
    for (let i = this.#head + 1; i < words.length; i++) text += words[i]!.sep + words[i]!.text;
    return { text, heading: first.heading, ...pagesOf(first.page, words.at(-1)!.page) };
  }
}

function* wordsOf(block: Block): Generator<Word> {
  for (const match of block.text.matchAll(/(\s*)(\S+)/g)) {
    // A block's text is trimmed, so its first word follows the block's own separator.
    yield* fragments(match[2]!, match.index === 0 ? block.sep : match[1]!, block);
  }
}

function* fragments(word: string, sep: string, block: Block): Generator<Word> {
  const base = { heading: block.heading, page: block.page };
  const units = unitsOf(word);
  if (units <= FRAGMENT_UNITS) {
    yield { sep, sepUnits: unitsOf(sep), text: word, units, ...base };
    return;
  }
  let start = 0;
  while (start < word.length) {
    let end = start;
    let size = 0;
    while (end < word.length && size + unitsOfCode(word.charCodeAt(end)) <= FRAGMENT_UNITS) size += unitsOfCode(word.charCodeAt(end++));
    // Never between the two halves of a surrogate pair (a pair is 8 units, so a fragment holds one).
    if (end < word.length && isHighSurrogate(word.charCodeAt(end - 1))) size -= unitsOfCode(word.charCodeAt(--end));
    const first = start === 0;
    yield { sep: first ? sep : '', sepUnits: first ? unitsOf(sep) : 0, text: word.slice(start, end), units: size, ...base };
    start = end;
  }
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
