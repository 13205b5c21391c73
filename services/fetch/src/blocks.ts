import { MAX_HEADING_CHARS, MAX_HEADING_DEPTH } from '@docintel/contracts';

/** How a block joins the block before it in the source. */
export type BlockSep = '\n\n' | '\n';

/**
 * One paragraph of a parsed document (or a bounded part of a long one), in document order.
 * Parsers stream blocks so that a large document never exists as one big string; the chunkers
 * read them one at a time.
 */
export interface Block {
  /** Titles from the outermost heading down, e.g. `['Install', 'Linux']`; `[]` before the first heading. */
  heading: readonly string[];
  /** Whitespace-normalised text (see {@link normaliseWhitespace}); never empty. */
  text: string;
  /** `'\n\n'` when the block starts a paragraph, `'\n'` when it continues one cut at {@link MAX_BLOCK_CHARS}. */
  sep: BlockSep;
  /** 1-based page, for formats with fixed pages (PDF). */
  page?: number;
}

/** A paragraph longer than this is cut into several blocks at line ends, so no block is huge. */
export const MAX_BLOCK_CHARS = 16_384;
/** A document of headings alone keeps at most this much of them as its text. */
const MAX_TITLES_CHARS = 1 << 20;

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const MAYBE_UNWANTED = /[\x00-\x08\x0E-\x1F\x7F-\x9F\uD800-\uDFFF\uFDD0-\uFDEF\uFFFD-\uFFFF]/;
// ANSI escape sequences (CSI "ESC [ ... final", and two-character ones), whole: not just their ESC.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const ESCAPE_SEQUENCE = /\x1B(?:\[[0-?]*[ -/]*[@-~]|[@-~])/g;
// Controls that are not whitespace (C0 but tab, line feed, vertical tab, form feed, carriage
// return; DEL; C1), the non-characters (U+FDD0-FDEF, U+FFFE and U+FFFF of every plane), lone
// surrogates (\p{Cs} matches only unpaired ones), and runs of replacement characters.
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const UNWANTED = /[\x00-\x08\x0E-\x1F\x7F-\x9F]|\p{Noncharacter_Code_Point}|\p{Cs}|\uFFFD(?:\s*\uFFFD)+/gu;

/**
 * Drops what no reader sees and no search should match: control characters other than
 * whitespace (and ANSI escape sequences whole), non-characters (U+FFFE, U+FFFF, U+FDD0-U+FDEF and
 * their like in every plane), lone surrogates, and runs of two or more U+FFFD (bytes that could
 * not be decoded, or glyphs without a character); a single U+FFFD stays, as the mark of one lost
 * character. Every parser's text goes through it ({@link normaliseLine}).
 */
export function cleanText(text: string): string {
  if (!MAYBE_UNWANTED.test(text)) return text;
  return text.replace(ESCAPE_SEQUENCE, '').replace(UNWANTED, '');
}

/**
 * Cleans the text ({@link cleanText}), collapses runs of spaces and tabs, trims every line and
 * keeps at most one blank line between paragraphs. Chunk hashes depend on the result, so it must
 * stay stable across releases; the streaming parsers apply the same rule line by line
 * ({@link normaliseLine}).
 */
export function normaliseWhitespace(text: string): string {
  return cleanText(text)
    .replace(/\r\n?/g, '\n')
    .replace(/[^\S\n]+/g, ' ')
    .replace(/ ?\n ?/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** {@link normaliseWhitespace} for one line (no line break inside). */
export function normaliseLine(line: string): string {
  return cleanText(line).replace(/\s+/g, ' ').trim();
}

/**
 * Turns a top-to-bottom reading of a document (headings, lines, paragraph ends) into blocks under
 * heading paths. Call the methods in document order and take the finished blocks with
 * {@link Outline.take} as you go; {@link Outline.finish} ends the document.
 */
export class Outline {
  /** Page that blocks made from now on belong to (PDF). */
  page: number | undefined;
  readonly #path: { level: number; title: string }[] = [];
  #heading: readonly string[] = [];
  #lines: string[] = [];
  #chars = 0;
  #sep: BlockSep = '\n\n';
  #out: Block[] = [];
  #emitted = false;
  /** Heading titles, kept only until the first block: a document of headings alone is made of them. */
  #titles: string[] = [];
  #titlesChars = 0;

  /**
   * A heading of `level` (1 outermost); an empty title names nothing and changes nothing. Titles
   * travel with every chunk of their section, so they are cut to the message schema's bounds.
   */
  heading(level: number, rawTitle: string): void {
    let title = normaliseLine(rawTitle);
    if (title === '') return;
    if (title.length > MAX_HEADING_CHARS) title = `${title.slice(0, MAX_HEADING_CHARS - 1)}…`;
    this.paragraphEnd();
    while ((this.#path.at(-1)?.level ?? 0) >= level) this.#path.pop();
    this.#path.push({ level, title });
    this.#heading = this.#path.slice(0, MAX_HEADING_DEPTH).map((h) => h.title);
    if (!this.#emitted && this.#titlesChars < MAX_TITLES_CHARS) {
      this.#titles.push(title);
      this.#titlesChars += title.length;
    }
  }

  /** Replaces the heading path outright (PDF bookmarks know their whole path). */
  path(titles: readonly string[]): void {
    this.paragraphEnd();
    this.#path.length = 0;
    titles.forEach((title, i) => this.heading(i + 1, title));
  }

  /** One line of body text; a blank line ends the paragraph. */
  line(raw: string): void {
    const text = normaliseLine(raw);
    if (text === '') {
      this.paragraphEnd();
      return;
    }
    this.#lines.push(text);
    this.#chars += text.length + 1;
    if (this.#chars > MAX_BLOCK_CHARS) {
      this.#emit();
      this.#sep = '\n';
    }
  }

  /** Several lines at once, split at any line break. */
  text(raw: string): void {
    for (const line of raw.split(/\r\n?|\n/)) this.line(line);
  }

  /** Ends the paragraph under way, if any. */
  paragraphEnd(): void {
    this.#emit();
    this.#sep = '\n\n';
  }

  /** The blocks finished since the last call. */
  take(): Block[] {
    const out = this.#out;
    this.#out = [];
    return out;
  }

  /** Ends the document; returns the last blocks. */
  finish(): Block[] {
    this.paragraphEnd();
    if (!this.#emitted && this.#titles.length > 0) {
      // A document of headings alone still has text; it must still give one chunk.
      this.#out.push({ heading: [], text: this.#titles.join('\n\n'), sep: '\n\n', ...(this.page === undefined ? {} : { page: this.page }) });
    }
    return this.take();
  }

  #emit(): void {
    if (this.#lines.length === 0) return;
    const block: Block = { heading: this.#heading, text: this.#lines.join('\n'), sep: this.#sep };
    if (this.page !== undefined) block.page = this.page;
    this.#out.push(block);
    this.#lines = [];
    this.#chars = 0;
    this.#emitted = true;
    this.#titles = [];
  }
}

/** Whether two heading paths are the same. */
export function sameHeading(a: readonly string[], b: readonly string[]): boolean {
  return a === b || (a.length === b.length && a.every((title, i) => title === b[i]));
}

/** The page fields of a chunk that runs from page `first` to page `last` (none for formats without pages). */
export function pagesOf(first: number | undefined, last: number | undefined): { page?: number; pageEnd?: number } {
  return first === undefined ? {} : { page: first, pageEnd: Math.max(first, last ?? first) };
}
