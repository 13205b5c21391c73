import { PermanentError } from '@docintel/core';
import { pagesOf } from './blocks';
import type { TextChunk } from './chunk';
import { UNITS_PER_TOKEN, unitsOf } from './tokens';

/**
 * Chunks that would be indexed as junk: their own vector, close to every short query, outranking
 * the chunks that answer it. A chunk with no letter or digit at all (punctuation, symbols, a rule
 * of dashes), or that is only page numbers ("Page 1 Page 2 Page 3", "- 4 -", "3 of 10"), is
 * dropped. A chunk with fewer than `minContentChars` letters and digits (a drop cap "A", a section
 * that is one short line) is small: it is merged into the chunk before it, or the one after it
 * when there is none before or that one is full, taking that chunk's heading path; a small chunk
 * longer than {@link smallLimit} characters is mostly symbols, and is dropped. What is merged may
 * take a chunk past its size by up to {@link slackTokens}; small chunks that fit nowhere are merged
 * with each other, and a document whose whole text is small keeps it as its one chunk.
 */
export interface JunkOptions {
  /** Letters and digits a chunk needs to stand alone; 0 turns the whole filter off. */
  minContentChars: number;
  /** The chunk size, in tokens. */
  size: number;
}

/** What {@link withoutJunk} did to a document's chunks. */
export interface JunkCounts {
  /** Small chunks merged into a neighbour. */
  merged: number;
  /** Junk chunks left out. */
  dropped: number;
}

/** @default MIN_CHUNK_CONTENT_CHARS */
export const DEFAULT_MIN_CHUNK_CONTENT_CHARS = 16;

/** Characters a small chunk may have and still be merged (more, with so few letters and digits, is junk). */
export function smallLimit(minContentChars: number): number {
  return Math.max(64, 4 * minContentChars);
}

/** Tokens a chunk may pass its size by with what is merged into it: a quarter of the size, at most 64. */
export function slackTokens(size: number): number {
  return Math.min(64, Math.floor(size / 4));
}

const CONTENT = /[\p{L}\p{N}]/gu;

/** Letters and digits in `text`, counted up to `atMost`. */
export function contentChars(text: string, atMost = Infinity): number {
  let count = 0;
  for (const _ of text.matchAll(CONTENT)) if (++count >= atMost) break;
  return count;
}

/** Words that name a page, in the languages most documents come in; matched on a token, case ignored. */
const PAGE_WORD = /^(?:pages?|pp?|pg|seite|página|pagina|pag|страница|стр|페이지|쪽|页|頁|ページ)$/iu;
const TOKEN = /\d+|\p{L}+|[^\s\p{L}\d]+/gu;

/**
 * Whether `text` is page numbers and nothing else: numbers with page words ("Page 3", "p. 4",
 * "Page 1 Page 2 Page 3", "3 of 10"), or bare numbers that count up by one ("1 2 3 4"), or a single
 * number ("- 7 -"), with nothing but separators between them.
 */
export function isPageNumberRun(text: string): boolean {
  const numbers: number[] = [];
  let words = 0;
  let outOf = false;
  for (const [token] of text.matchAll(TOKEN)) {
    if (/^\d+$/.test(token)) {
      if (token.length > 5) return false;
      numbers.push(Number(token));
    } else if (PAGE_WORD.test(token)) {
      words++;
    } else if (/^(?:of|von|de|sur|di|из)$/iu.test(token) || token === '/') {
      outOf = true;
    } else if (!/^[-–—|·•.,:;()[\]#]+$/u.test(token)) {
      return false;
    }
  }
  if (numbers.length === 0) return false;
  if (words > 0 || numbers.length === 1) return true;
  if (outOf) return numbers.length % 2 === 0;
  return numbers.every((n, i) => i === 0 || n === numbers[i - 1]! + 1);
}

/** A chunk being held: it may still take in small chunks, or be one of small chunks merged together. */
interface Held {
  chunk: Omit<TextChunk, 'index'>;
  units: number;
  /** Chunks it was made of. */
  parts: number;
}

/**
 * The chunks of a document without junk (see {@link JunkOptions}), renumbered from 0 without gaps,
 * in order; `counts` is filled in as they are read. Reads one chunk ahead, and holds at most the
 * small chunks in a row that fit nowhere.
 *
 * @throws PermanentError EMPTY_DOCUMENT when every chunk was junk
 */
export async function* withoutJunk(chunks: AsyncIterable<TextChunk> | Iterable<TextChunk>, options: JunkOptions, counts: JunkCounts): AsyncGenerator<TextChunk> {
  const { minContentChars } = options;
  if (minContentChars <= 0) {
    yield* chunks;
    return;
  }
  const limit = (options.size + slackTokens(options.size)) * UNITS_PER_TOKEN;
  const small = smallLimit(minContentChars);
  let index = 0;
  let seen = 0;
  /** The last chunk that stands alone, not yet given out: a small chunk after it may join it. */
  let previous: Held | undefined;
  /** Small chunks in a row that fit nowhere yet. */
  let group: Held | undefined;
  const out = (held: Held): TextChunk => ({ index: index++, ...held.chunk });
  const fits = (a: Held, b: Held) => a.units + 2 + b.units <= limit;
  /** The group goes into the chunk before it if it fits, else stands alone; returns the chunk that is then done. */
  const settle = (pending: Held): TextChunk | undefined => {
    if (previous !== undefined && fits(previous, pending)) {
      previous = join(previous, pending);
      counts.merged += pending.parts;
      return undefined;
    }
    counts.merged += pending.parts - 1;
    const done = previous === undefined ? undefined : out(previous);
    previous = pending;
    return done;
  };

  for await (const chunk of chunks) {
    seen++;
    const held: Held = { chunk: { text: chunk.text, heading: chunk.heading, ...pagesOf(chunk.page, chunk.pageEnd) }, units: unitsOf(chunk.text), parts: 1 };
    const content = contentChars(chunk.text, minContentChars);
    if (content === 0 || isPageNumberRun(chunk.text) || (content < minContentChars && chunk.text.length > small)) {
      counts.dropped++;
      continue;
    }
    if (content < minContentChars) {
      if (group !== undefined) {
        group = join(group, held);
        if (contentChars(group.chunk.text, minContentChars) >= minContentChars) {
          // Small chunks that together are real text stand alone.
          counts.merged += group.parts - 1;
          if (previous !== undefined) yield out(previous);
          previous = group;
          group = undefined;
        }
      } else if (previous !== undefined && fits(previous, held)) {
        previous = join(previous, held);
        counts.merged++;
      } else {
        group = held;
      }
      continue;
    }
    let next = held;
    if (group !== undefined && fits(group, next)) {
      next = join(group, next, next);
      counts.merged += group.parts;
    } else if (group !== undefined) {
      const done = settle(group);
      if (done !== undefined) yield done;
    }
    group = undefined;
    if (previous !== undefined) yield out(previous);
    previous = next;
  }
  if (group !== undefined) {
    const done = settle(group);
    if (done !== undefined) yield done;
  }
  if (previous !== undefined) yield out(previous);
  else if (seen > 0) {
    throw new PermanentError('EMPTY_DOCUMENT', `document has no text to index: each of its ${seen} chunks is page numbers, punctuation or symbols only`);
  }
}

/** `a` then `b`, a paragraph apart, over both's pages, under the heading path of `under` (`a` unless said). */
function join(a: Held, b: Held, under: Held = a): Held {
  return {
    chunk: { text: `${a.chunk.text}\n\n${b.chunk.text}`, heading: under.chunk.heading, ...pagesOf(a.chunk.page ?? b.chunk.page, b.chunk.pageEnd ?? a.chunk.pageEnd) },
    units: a.units + 2 + b.units,
    parts: a.parts + b.parts,
  };
}
