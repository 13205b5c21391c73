/**
 * What pdf-reader.mts gives: types only, because that file runs without a build step in tests,
 * where it can import nothing of ours at run time.
 */

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
