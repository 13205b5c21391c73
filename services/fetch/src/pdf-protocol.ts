/**
 * Messages between the fetch service and its PDF worker thread (pdf-worker.mts). Types only: the
 * worker runs without a build step in tests, where it can import nothing of ours at run time.
 */

/** What the worker gets at start. */
export interface PdfWorkerData {
  /** The document; transferred, not copied. */
  data: Uint8Array;
}

/** A bookmark of the document's outline, flattened in document order. */
export interface PdfOutlineEntry {
  /** Titles from the outermost bookmark down to this one. */
  path: string[];
  /** 1-based page the bookmark points to. */
  page: number;
  /** Where on the page it points, in PDF units from the bottom; null: the top of the page. */
  top: number | null;
}

/** One line of a page's text, in content order. */
export interface PdfLine {
  text: string;
  /** Font size: the largest text height on the line. */
  size: number;
  /** Baseline, in PDF units from the bottom of the page. */
  y: number;
}

/** The parent asks for one page at a time (1-based), so the worker never runs far ahead. */
export interface PdfPageRequest {
  page: number;
}

export type PdfWorkerMessage =
  | { type: 'opened'; pages: number; outline: PdfOutlineEntry[] }
  | { type: 'page'; page: number; lines: PdfLine[] }
  | { type: 'failed'; reason: 'encrypted' | 'corrupt'; message: string };
