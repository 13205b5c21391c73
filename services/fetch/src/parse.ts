import { isUtf8 } from 'node:buffer';
import { PermanentError } from '@docintel/core';
import type { Block } from './blocks';
import { DEFAULT_DOCUMENT_LIMITS, documentTooLarge, extractedTooMuch, type DocumentLimits } from './limits';
import { ParsePool } from './parse-pool';
import type { PooledFormat } from './parse-protocol';
import { CONTROL, markdownBlocks, plainBlocks } from './text';
import { zipEntries } from './zip';

export { normaliseWhitespace, type Block } from './blocks';

/** The formats fetch reads. */
export type DocumentFormat = 'plain' | 'markdown' | 'html' | 'pdf' | 'docx';

/** Supported mime types (parameters such as `; charset=utf-8` are ignored) and their formats. */
export const MIME_FORMATS: Readonly<Record<string, DocumentFormat>> = {
  'text/plain': 'plain',
  'text/markdown': 'markdown',
  'text/x-markdown': 'markdown',
  'text/html': 'html',
  'application/xhtml+xml': 'html',
  'application/pdf': 'pdf',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
};

export interface ParseOptions extends Partial<DocumentLimits> {
  /** Largest accepted content in bytes. @default no limit */
  maxBytes?: number;
  /**
   * The parse processes that read PDF, DOCX and HTML. @default one pool for the whole process,
   * made on first use with the default limits ({@link defaultParsePool})
   */
  pool?: ParsePool;
}

let sharedPool: ParsePool | undefined;

/** The pool used when {@link parseDocument} is given none, made on first use. */
export function defaultParsePool(): ParsePool {
  sharedPool ??= new ParsePool();
  return sharedPool;
}

/** Stops the processes of {@link defaultParsePool}, if it was made (tests, at the end). */
export async function closeDefaultParsePool(): Promise<void> {
  const pool = sharedPool;
  sharedPool = undefined;
  await pool?.close();
}

/** Leading bytes (as latin1) of formats that are sometimes stored under the wrong mime type. */
const MAGIC: ReadonlyArray<readonly [string, string]> = [
  ['%PDF-', 'a PDF'], ['PK\x03\x04', 'a ZIP archive (DOCX, XLSX, ODT, ...)'],
  ['\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1', 'an OLE2 document (DOC, XLS, a password-protected DOCX, ...)'], ['\x89PNG\r\n\x1A\n', 'a PNG image'],
  ['\xFF\xD8\xFF', 'a JPEG image'], ['GIF8', 'a GIF image'], ['\x1F\x8B', 'gzip data'], ['{\\rtf', 'an RTF document'],
  ['\xFF\xFE', 'UTF-16 text (only UTF-8 is accepted)'], ['\xFE\xFF', 'UTF-16 text (only UTF-8 is accepted)'],
];

/**
 * Reads stored document bytes as a stream of paragraph blocks under heading paths (with page
 * numbers for PDF). The checks that need no parsing (type, size, magic bytes, UTF-8) run at once
 * and throw from this call; parsing runs as the blocks are read, so a large document is never
 * held as text, and its failures (a corrupt PDF page, no text at all, a limit) reject the
 * iteration. PDF, DOCX and HTML are parsed in the processes of `options.pool`, under their memory
 * and time limits; the text formats here, a window at a time.
 *
 * @param content the stored bytes; text formats must be UTF-8
 * @param mimeType a key of {@link MIME_FORMATS}, parameters and case ignored
 * @throws PermanentError `UNSUPPORTED_MEDIA_TYPE`, `DOCUMENT_TOO_LARGE`, `CORRUPT_DOCUMENT` (the
 *   content is not of its type, is broken or encrypted), `EMPTY_DOCUMENT` (no text at all),
 *   `PARSE_LIMIT` (see {@link DocumentLimits} and the pool's limits) or `INVALID_OPTIONS`
 */
export function parseDocument(content: Buffer, mimeType: string, options: ParseOptions = {}): AsyncGenerator<Block> {
  const type = mimeType.split(';')[0]!.trim().toLowerCase();
  const format = MIME_FORMATS[type];
  if (format === undefined) {
    throw new PermanentError('UNSUPPORTED_MEDIA_TYPE', `unsupported mime type "${mimeType}"; supported: ${Object.keys(MIME_FORMATS).join(', ')}`);
  }
  const { maxBytes } = options;
  if (maxBytes !== undefined && !(Number.isInteger(maxBytes) && maxBytes > 0)) {
    throw new PermanentError('INVALID_OPTIONS', `maxBytes must be a positive whole number, got ${maxBytes}`);
  }
  if (maxBytes !== undefined && content.length > maxBytes) throw documentTooLarge(content.length, maxBytes);
  const limits: DocumentLimits = {
    maxExtractedChars: options.maxExtractedChars ?? DEFAULT_DOCUMENT_LIMITS.maxExtractedChars,
    maxDecompressedBytes: options.maxDecompressedBytes ?? DEFAULT_DOCUMENT_LIMITS.maxDecompressedBytes,
    maxDecompressionRatio: options.maxDecompressionRatio ?? DEFAULT_DOCUMENT_LIMITS.maxDecompressionRatio,
  };
  for (const [name, value] of Object.entries(limits)) {
    if (!(Number.isInteger(value) && value > 0)) throw new PermanentError('INVALID_OPTIONS', `${name} must be a positive whole number, got ${value}`);
  }
  const pooled = (pooledFormat: PooledFormat) =>
    (options.pool ?? defaultParsePool()).parse(pooledFormat, content, { maxDecompressedBytes: limits.maxDecompressedBytes, maxDecompressionRatio: limits.maxDecompressionRatio });
  const read = (blocks: Iterable<Block> | AsyncIterable<Block>, hint = '') => checked(blocks, type, limits.maxExtractedChars, hint);
  switch (format) {
    case 'pdf':
      checkMagic(content, type, '%PDF-');
      return read(pooled('pdf'), ' (a scanned PDF needs OCR, which fetch does not do)');
    case 'docx':
      checkDocx(content, type);
      return read(pooled('docx'));
    case 'html':
      checkText(content, type);
      return read(pooled('html'));
    case 'markdown':
      checkText(content, type);
      return read(markdownBlocks(content));
    case 'plain':
      checkText(content, type);
      return read(plainBlocks(content));
  }
}

/**
 * The blocks of `source` while their text is within `maxChars` (PARSE_LIMIT past it), or
 * EMPTY_DOCUMENT at the end when there were none.
 */
async function* checked(source: Iterable<Block> | AsyncIterable<Block>, type: string, maxChars: number, hint: string): AsyncGenerator<Block> {
  let blocks = 0;
  let chars = 0;
  for await (const block of source) {
    blocks++;
    chars += block.text.length;
    if (chars > maxChars) throw extractedTooMuch(maxChars);
    yield block;
  }
  if (blocks === 0) throw new PermanentError('EMPTY_DOCUMENT', `document has no text after parsing it as ${type}${hint}`);
}

function looksLike(content: Buffer): string | undefined {
  return MAGIC.find(([magic]) => content.subarray(0, magic.length).toString('latin1') === magic)?.[1];
}

function checkMagic(content: Buffer, type: string, magic: string): void {
  if (content.subarray(0, magic.length).toString('latin1') === magic) return;
  const found = looksLike(content);
  const what = found !== undefined ? `looks like ${found}` : content.length === 0 ? 'is empty' : `does not start with "${magic}"`;
  throw new PermanentError(content.length === 0 ? 'EMPTY_DOCUMENT' : 'CORRUPT_DOCUMENT', `content ${what}, so it is not ${type}`);
}

/** A DOCX is a ZIP archive holding word/document.xml. */
function checkDocx(content: Buffer, type: string): void {
  if (looksLike(content)?.startsWith('an OLE2')) {
    // Office wraps a password-protected DOCX in an OLE2 container; a legacy .doc is one too.
    throw new PermanentError('CORRUPT_DOCUMENT', `content is an OLE2 compound file, not ${type}: a password-protected DOCX or a legacy Word .doc, neither of which can be read`, {
      details: { encrypted: 'maybe' },
    });
  }
  checkMagic(content, type, 'PK\x03\x04');
  const entries = zipEntries(content);
  const hasBody = entries?.some((entry) => entry.name === 'word/document.xml');
  if (hasBody === undefined) throw new PermanentError('CORRUPT_DOCUMENT', `content is a ZIP archive whose directory cannot be read (truncated?), so it is not a readable ${type}`);
  if (!hasBody) throw new PermanentError('CORRUPT_DOCUMENT', `content is a ZIP archive without word/document.xml, so it is not ${type}`);
}

/** Text formats: valid UTF-8 that does not look binary. */
function checkText(content: Buffer, type: string): void {
  const corrupt = (found: string) => new PermanentError('CORRUPT_DOCUMENT', `content ${found}, not ${type}`);
  const found = looksLike(content);
  if (found !== undefined) throw corrupt(`looks like ${found}`);
  const nul = content.indexOf(0);
  if (nul !== -1) throw corrupt(`contains a NUL byte at offset ${nul}, so it is binary`);
  // Checked whole, natively, without making a string: the parsers decode window by window.
  if (!isUtf8(content)) throw new PermanentError('CORRUPT_DOCUMENT', `content is not valid UTF-8, so it is not ${type}`);
  // Valid UTF-8 can still be binary (e.g. a raw dump): judge by control characters near the start.
  const head = content.toString('utf8', 0, Math.min(content.length, 8192));
  const controls = head.match(CONTROL)?.length ?? 0;
  if (controls > head.length / 10) throw corrupt(`looks binary (${controls} control characters in its first ${head.length})`);
}
