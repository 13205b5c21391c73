import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Outline, normaliseLine, type Block } from './blocks';
import { pdfFailure } from './parse-errors';
import type { PdfLine, PdfOutlineEntry } from './pdf-protocol';
import type * as PdfReaderModule from './pdf-reader.mjs';

/** pdf-reader.mts: pdf.js is ESM-only, so it is loaded with import(). */
type PdfReader = typeof PdfReaderModule;

/**
 * The reader's file: the compiled .mjs next to this file, or under jest (which runs src/) the .mts
 * source itself, which Node runs by stripping its types.
 */
const READER_FILE = path.join(__dirname, path.extname(__filename) === '.ts' ? 'pdf-reader.mts' : 'pdf-reader.mjs');
let reader: Promise<PdfReader> | undefined;

/**
 * pdf.js, loaded once, with its data files (character maps, standard fonts) checked; a parse
 * process loads it before it says it is ready, and does not start without them.
 */
export function loadPdfReader(): Promise<PdfReader> {
  reader ??= (import(pathToFileURL(READER_FILE).href) as Promise<PdfReader>).then((module) => {
    module.checkPdfData();
    return module;
  });
  return reader;
}

/**
 * A PDF's text, page by page, read with pdf.js in this process: in fetch's parse processes
 * (parse-child.ts), whose memory and time limits bound what a hostile document can take. Pages are
 * read as the blocks are, so a 500-page document is never held as text, only as its bytes.
 * Headings come from the document's bookmarks when it has any (office suites export headings as
 * bookmarks), else from font sizes; every block carries its page.
 *
 * @throws PermanentError `CORRUPT_DOCUMENT` (unreadable, or encrypted with a password: see
 *   {@link pdfFailure}); any other error of pdf.js or of ours as it is (not the document's fault)
 */
export async function* pdfBlocks(content: Buffer): AsyncGenerator<Block> {
  const pdf = await loadPdfReader();
  let doc: PdfReaderModule.PDFDocumentProxy;
  let outline: PdfOutlineEntry[];
  try {
    // A copy pdf.js can own: the Buffer may share its memory with other Buffers.
    doc = await pdf.openPdf(new Uint8Array(content));
  } catch (error) {
    throw pdfFailure(error);
  }
  try {
    try {
      outline = await pdf.outlineOf(doc);
    } catch (error) {
      throw pdfFailure(error);
    }
    const layout = new PdfLayout(outline);
    for (let page = 1; page <= doc.numPages; page++) {
      let lines: PdfLine[];
      try {
        lines = await pdf.linesOf(doc, page);
        await pdf.afterPage(doc, page);
      } catch (error) {
        throw pdfFailure(error, page);
      }
      yield* layout.page(page, lines);
    }
    yield* layout.finish();
  } finally {
    await doc.loadingTask.destroy();
  }
}

/** A line at least this much larger than the body text is a heading (when there are no bookmarks). */
const HEADING_RATIO = 1.2;
/** Longer lines are body text whatever their size: a heading is a title, not a paragraph. */
const MAX_HEADING_LINE = 200;
/** A vertical step larger than this many font sizes between two lines starts a new paragraph. */
const PARAGRAPH_GAP = 1.6;

/** Turns the lines of each page into blocks with heading paths and page numbers. */
class PdfLayout {
  readonly #outline = new Outline();
  /** Bookmarks by page, top of the page first. */
  readonly #bookmarks = new Map<number, PdfOutlineEntry[]>();
  /** Characters of text by font size (rounded to half a point), over the pages read so far. */
  readonly #sizes = new Map<number, number>();
  /** The distinct heading sizes seen, largest first: a heading's level is its rank. */
  readonly #headingSizes: number[] = [];

  constructor(bookmarks: PdfOutlineEntry[]) {
    for (const entry of bookmarks) {
      const list = this.#bookmarks.get(entry.page) ?? [];
      list.push(entry);
      this.#bookmarks.set(entry.page, list);
    }
    for (const list of this.#bookmarks.values()) list.sort((a, b) => (b.top ?? Infinity) - (a.top ?? Infinity));
  }

  *page(number: number, lines: PdfLine[]): Generator<Block> {
    const outline = this.#outline;
    outline.page = number;
    const byBookmarks = this.#bookmarks.size > 0;
    for (const line of lines) this.#sizes.set(round(line.size), (this.#sizes.get(round(line.size)) ?? 0) + line.text.length);
    const body = this.#bodySize();
    const marks = this.#bookmarks.get(number) ?? [];
    let mark = 0;
    let bookmarkTitle: string | undefined; // the title of a bookmark just passed: its heading line is not body text
    let heading: { size: number; text: string; y: number } | undefined; // a heading being read, maybe over several lines
    let previous: PdfLine | undefined;
    const endHeading = (): void => {
      if (heading !== undefined) outline.heading(this.#level(heading.size), heading.text);
      heading = undefined;
    };
    for (const line of lines) {
      // A bookmark pointing at or above this line's baseline starts its section before the line.
      while (mark < marks.length && (marks[mark]!.top === null || line.y < marks[mark]!.top! + 1)) {
        outline.path(marks[mark]!.path);
        bookmarkTitle = normaliseLine(marks[mark]!.path.at(-1) ?? '');
        previous = undefined;
        mark++;
      }
      const text = normaliseLine(line.text);
      if (bookmarkTitle !== undefined && text === bookmarkTitle) {
        bookmarkTitle = undefined;
        continue;
      }
      bookmarkTitle = undefined;
      if (!byBookmarks && line.size >= body * HEADING_RATIO && text.length <= MAX_HEADING_LINE && /\p{L}/u.test(text)) {
        // A title wrapped over two lines of the same size is one heading.
        if (heading !== undefined && round(heading.size) === round(line.size) && heading.y - line.y <= PARAGRAPH_GAP * line.size) {
          heading.text += ` ${text}`;
          heading.y = line.y;
        } else {
          endHeading();
          heading = { size: line.size, text, y: line.y };
        }
        previous = undefined;
        continue;
      }
      endHeading();
      if (previous !== undefined && paragraphBreak(previous, line)) outline.paragraphEnd();
      outline.line(line.text);
      previous = line;
      yield* outline.take();
    }
    endHeading();
    for (; mark < marks.length; mark++) outline.path(marks[mark]!.path);
    // A page ends a paragraph: every block has one page.
    outline.paragraphEnd();
    yield* outline.take();
  }

  /** Ends the document: one made of headings alone still gives a block. */
  *finish(): Generator<Block> {
    yield* this.#outline.finish();
  }

  /** The most common font size by characters: the body text's. */
  #bodySize(): number {
    let best = 0;
    let bestChars = -1;
    for (const [size, chars] of this.#sizes) {
      if (chars > bestChars) [best, bestChars] = [size, chars];
    }
    return best;
  }

  #level(size: number): number {
    const rounded = round(size);
    if (!this.#headingSizes.includes(rounded)) {
      this.#headingSizes.push(rounded);
      this.#headingSizes.sort((a, b) => b - a);
    }
    return this.#headingSizes.indexOf(rounded) + 1;
  }
}

function round(size: number): number {
  return Math.round(size * 2) / 2;
}

/** Whether `line` starts a new paragraph after `previous` on the same page. */
function paragraphBreak(previous: PdfLine, line: PdfLine): boolean {
  const step = previous.y - line.y;
  // Upwards: a new column or text box. A big step down: a blank line. A new size: a new kind of text.
  return step < -1 || step > PARAGRAPH_GAP * Math.max(previous.size, line.size) || Math.abs(round(line.size) - round(previous.size)) > 0.15 * previous.size;
}
