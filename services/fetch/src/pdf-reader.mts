/**
 * pdf.js, for the parse processes (parse-child.ts): opens one document and reads its outline and
 * the text of its pages. It is ESM because pdf.js is ESM-only, loaded with import() from the
 * CommonJS parse process. This file must stay runnable by Node's type stripping (tests run it
 * from src/): erasable TypeScript only, and no run-time imports of our own modules.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { getDocument, type PDFDocumentProxy } from 'pdfjs-dist/legacy/build/pdf.mjs';
import type { PdfLine, PdfOutlineEntry } from './pdf-protocol.js';

export type { PDFDocumentProxy };

/** Bookmarks beyond these are ignored: they travel with every chunk, and a hostile outline could be huge. */
const MAX_OUTLINE_ENTRIES = 10_000;
const MAX_OUTLINE_DEPTH = 16;
/** See afterPage. */
const CLEANUP_EVERY_PAGES = 20;

/**
 * The data files pdf.js reads from the installed pdfjs-dist package (paths, which its Node readers
 * open with fs): resolved from this file, so the same from src/ under jest, from dist/, and in the
 * Docker image (/app/services/fetch/dist and /app/node_modules/pdfjs-dist).
 */
const PDFJS_DIR = path.dirname(createRequire(import.meta.url).resolve('pdfjs-dist/package.json'));
export const PDFJS_DATA = {
  /**
   * The character maps (binary, "packed"): without them the text of a font with a predefined
   * CMap (UniJIS-UCS2-H, UniGB-UTF16-H, ...) or of a CID font with no ToUnicode map of its own
   * (its CIDs are read through Adobe-Japan1-UCS2 and the like) is lost.
   */
  cMapUrl: `${path.join(PDFJS_DIR, 'cmaps')}${path.sep}`,
  /** Metrics of the 14 standard fonts, which documents use without embedding them, to place text. */
  standardFontDataUrl: `${path.join(PDFJS_DIR, 'standard_fonts')}${path.sep}`,
};

/** Throws unless the data files are there: a parse process must not start without them. */
export function checkPdfData(): void {
  for (const file of [path.join(PDFJS_DATA.cMapUrl, 'UniJIS-UCS2-H.bcmap'), path.join(PDFJS_DATA.cMapUrl, 'Adobe-Japan1-UCS2.bcmap'), path.join(PDFJS_DATA.standardFontDataUrl, 'LiberationSans-Regular.ttf')]) {
    if (!existsSync(file)) throw new Error(`pdf.js data file ${file} is missing: is pdfjs-dist installed whole?`);
  }
}

/** Opens a document; pdf.js may take over `data` (it is not copied). */
export async function openPdf(data: Uint8Array): Promise<PDFDocumentProxy> {
  return getDocument({
    data,
    cMapUrl: PDFJS_DATA.cMapUrl,
    cMapPacked: true,
    standardFontDataUrl: PDFJS_DATA.standardFontDataUrl,
    // Only what the text needs: no fonts for rendering, no XFA forms, no network.
    disableFontFace: true,
    enableXfa: false,
    stopAtErrors: false,
    verbosity: 0,
  }).promise;
}

export async function outlineOf(doc: PDFDocumentProxy): Promise<PdfOutlineEntry[]> {
  const entries: PdfOutlineEntry[] = [];
  type Item = Awaited<ReturnType<PDFDocumentProxy['getOutline']>>[number];
  const walk = async (items: Item[], path: string[]): Promise<void> => {
    for (const item of items) {
      if (entries.length >= MAX_OUTLINE_ENTRIES) return;
      const here = [...path, item.title];
      const target = await destination(doc, item.dest);
      if (target !== undefined) entries.push({ path: here, ...target });
      if (here.length < MAX_OUTLINE_DEPTH) await walk((item.items ?? []) as Item[], here);
    }
  };
  await walk((await doc.getOutline()) ?? [], []);
  return entries;
}

/** The page and height a bookmark's destination points to; undefined when it points nowhere we can tell. */
async function destination(doc: PDFDocumentProxy, dest: string | unknown[] | null): Promise<Omit<PdfOutlineEntry, 'path'> | undefined> {
  try {
    const explicit = typeof dest === 'string' ? await doc.getDestination(dest) : dest;
    if (!Array.isArray(explicit)) return undefined;
    const [ref, mode, ...args] = explicit as [unknown, { name?: string } | undefined, ...unknown[]];
    const index = typeof ref === 'number' ? ref : await doc.getPageIndex(ref as Parameters<PDFDocumentProxy['getPageIndex']>[0]);
    // XYZ left top zoom; FitH and FitBH top: the other modes show a whole page.
    const top = mode?.name === 'XYZ' ? args[1] : mode?.name === 'FitH' || mode?.name === 'FitBH' ? args[0] : null;
    return { page: index + 1, top: typeof top === 'number' && Number.isFinite(top) ? top : null };
  } catch {
    return undefined; // a broken bookmark costs its heading, not the document
  }
}

export async function linesOf(doc: PDFDocumentProxy, number: number): Promise<PdfLine[]> {
  const page = await doc.getPage(number);
  try {
    const content = await page.getTextContent();
    const lines: PdfLine[] = [];
    let text = '';
    let size = 0;
    let y = 0;
    const end = (): void => {
      if (text.trim() !== '') lines.push({ text, size, y });
      text = '';
      size = 0;
    };
    for (const item of content.items) {
      if (!('str' in item)) continue;
      if (item.str !== '') {
        if (text === '') y = Number(item.transform[5]) || 0;
        text += item.str;
        size = Math.max(size, item.height);
      }
      if (item.hasEOL) end();
    }
    end();
    return lines;
  } finally {
    // Fonts and operator lists of a page are not needed again: keep the heap to one page's worth.
    page.cleanup();
  }
}

/**
 * Frees what pdf.js keeps of the pages read so far. It keeps every page it has loaded, and fonts,
 * for the document's life: dropping them every {@link CLEANUP_EVERY_PAGES} pages keeps a
 * 500-page document's memory to a few pages' worth.
 */
export async function afterPage(doc: PDFDocumentProxy, page: number): Promise<void> {
  if (page % CLEANUP_EVERY_PAGES === 0) await doc.cleanup();
}
