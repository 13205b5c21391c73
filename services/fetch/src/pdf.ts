import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { PermanentError } from '@docintel/core';
import { Outline, normaliseLine, type Block } from './blocks';
import type { PdfLine, PdfOutlineEntry, PdfPageRequest, PdfWorkerData, PdfWorkerMessage } from './pdf-protocol';

/**
 * The worker's script: the compiled .mjs next to this file, or under jest (which runs src/) the
 * .mts source itself, which Node runs by stripping its types.
 */
const WORKER_FILE = path.join(__dirname, path.extname(__filename) === '.ts' ? 'pdf-worker.mts' : 'pdf-worker.mjs');

/** The worker's heap limit: a document that needs more fails with DOCUMENT_TOO_LARGE instead of taking the service down. */
export const PDF_WORKER_HEAP_MB = 512;

/**
 * A PDF's text, page by page, from a worker thread that reads at most one page ahead: a 500-page
 * document is never held as text, only as its bytes. Headings come from the document's bookmarks
 * when it has any (office suites export headings as bookmarks), else from font sizes; every
 * block carries its page.
 *
 * @throws PermanentError `CORRUPT_DOCUMENT` (unreadable, or encrypted with a password),
 *   `DOCUMENT_TOO_LARGE` (parsing needs more than {@link PDF_WORKER_HEAP_MB} of heap)
 */
export async function* pdfBlocks(content: Buffer): AsyncGenerator<Block> {
  const worker = new PdfWorker(content);
  try {
    const opened = await worker.next();
    if (opened.type !== 'opened') throw failure(opened);
    const layout = new PdfLayout(opened.outline);
    if (opened.pages > 0) worker.request(1);
    for (let page = 1; page <= opened.pages; page++) {
      const answer = await worker.next();
      if (answer.type !== 'page' || answer.page !== page) throw failure(answer, page);
      // The worker reads the next page while this one is cut into chunks.
      if (page < opened.pages) worker.request(page + 1);
      yield* layout.page(page, answer.lines);
    }
    yield* layout.finish();
  } finally {
    await worker.close();
  }
}

function failure(message: PdfWorkerMessage, page?: number): Error {
  if (message.type !== 'failed') return new Error(`the PDF worker answered ${message.type} out of turn`);
  if (message.reason === 'encrypted') {
    return new PermanentError('CORRUPT_DOCUMENT', 'PDF is encrypted: it needs a password to open; send it without one', { details: { encrypted: true } });
  }
  const where = page === undefined ? 'content is not a readable PDF' : `page ${page} of the PDF cannot be read`;
  return new PermanentError('CORRUPT_DOCUMENT', `${where}: ${message.message}`);
}

/** One worker thread and its messages, read in order. */
class PdfWorker {
  readonly #worker: Worker;
  readonly #inbox: PdfWorkerMessage[] = [];
  #waiting: { resolve: (message: PdfWorkerMessage) => void; reject: (error: Error) => void } | undefined;
  #error: Error | undefined;
  #closed = false;

  constructor(content: Buffer) {
    // A copy the worker can own: the Buffer may share its memory with other Buffers.
    const data = new Uint8Array(content);
    const workerData: PdfWorkerData = { data };
    this.#worker = new Worker(WORKER_FILE, {
      workerData,
      transferList: [data.buffer],
      resourceLimits: { maxOldGenerationSizeMb: PDF_WORKER_HEAP_MB },
    });
    this.#worker.on('message', (message: PdfWorkerMessage) => {
      if (this.#waiting) {
        this.#waiting.resolve(message);
        this.#waiting = undefined;
      } else {
        this.#inbox.push(message);
      }
    });
    this.#worker.on('error', (error: Error & { code?: string }) => {
      this.#fail(
        error.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? new PermanentError('DOCUMENT_TOO_LARGE', `parsing the PDF needs more than ${PDF_WORKER_HEAP_MB} MB`, { cause: error })
          : error,
      );
    });
    this.#worker.on('exit', (code) => {
      if (!this.#closed) this.#fail(new Error(`the PDF worker exited with code ${code}`));
    });
  }

  next(): Promise<PdfWorkerMessage> {
    const message = this.#inbox.shift();
    if (message !== undefined) return Promise.resolve(message);
    if (this.#error !== undefined) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.#waiting = { resolve, reject };
    });
  }

  request(page: number): void {
    const request: PdfPageRequest = { page };
    this.#worker.postMessage(request);
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#worker.terminate();
  }

  #fail(error: Error): void {
    this.#error ??= error;
    this.#waiting?.reject(this.#error);
    this.#waiting = undefined;
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
