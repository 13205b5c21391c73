import { PermanentError } from '@docintel/core';
import type { Block } from './blocks';
import { charsetOf, checkDecoded, headOf, nulOffset, textEncodingOf } from './encoding';
import { DEFAULT_DOCUMENT_LIMITS, documentTooLarge, extractedTooMuch, type DocumentLimits } from './limits';
import { ParsePool } from './parse-pool';
import type { PooledFormat } from './parse-protocol';
import { markdownBlocks, plainBlocks } from './text';
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
];

/** The first bytes of a PDF that must hold its `%PDF-` header, as in pdf.js and poppler: some mailers and servers put bytes before it. */
export const PDF_HEADER_WITHIN = 1024;

/**
 * Reads stored document bytes as a stream of paragraph blocks under heading paths (with page
 * numbers for PDF). The checks that need no parsing (type, size, magic bytes, a text format's
 * encoding) run at once and throw from this call; parsing runs as the blocks are read, so a large document is never
 * held as text, and its failures (a corrupt PDF page, no text at all, a limit) reject the
 * iteration. PDF, DOCX and HTML are parsed in the processes of `options.pool`, under their memory
 * and time limits; the text formats here, a window at a time.
 *
 * @param content the stored bytes; text formats in any encoding of the WHATWG Encoding Standard:
 *   see encoding.ts (plain text, Markdown) and html.ts (HTML)
 * @param mimeType a key of {@link MIME_FORMATS}, case ignored; of its parameters only `charset`
 *   counts (the encoding of a text format, where its content has no byte order mark)
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
  const charset = charsetOf(mimeType);
  const pooled = (pooledFormat: PooledFormat) =>
    (options.pool ?? defaultParsePool()).parse(pooledFormat, content, { maxDecompressedBytes: limits.maxDecompressedBytes, maxDecompressionRatio: limits.maxDecompressionRatio }, charset);
  const read = (blocks: Iterable<Block> | AsyncIterable<Block>, hint = '') => checked(blocks, type, limits.maxExtractedChars, hint);
  switch (format) {
    case 'pdf':
      checkPdfHeader(content, type);
      return read(pooled('pdf'), ' (a scanned PDF needs OCR, which fetch does not do)');
    case 'docx':
      checkDocx(content, type);
      return read(pooled('docx'));
    case 'html':
      // Sniffed, decoded and checked in the parse process (html.ts), which has the whole text anyway.
      checkNotBinary(content, type);
      return read(pooled('html'));
    case 'markdown':
      return read(markdownBlocks(content, checkText(content, type, charset)));
    case 'plain':
      return read(plainBlocks(content, checkText(content, type, charset)));
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
  notOfType(content, type, `does not start with "${magic}"`);
}

/** A PDF: its header within the first {@link PDF_HEADER_WITHIN} bytes, whole (pdf.js reads offsets from there). */
function checkPdfHeader(content: Buffer, type: string): void {
  const at = content.subarray(0, PDF_HEADER_WITHIN).indexOf('%PDF-', 0, 'latin1');
  if (at !== -1) return;
  notOfType(content, type, `has no "%PDF-" header in its first ${PDF_HEADER_WITHIN} bytes`);
}

function notOfType(content: Buffer, type: string, otherwise: string): never {
  const found = looksLike(content);
  const what = found !== undefined ? `looks like ${found}` : content.length === 0 ? 'is empty' : otherwise;
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

/** Text formats: not a binary format's bytes (a PDF, a ZIP, an image stored under a text type). */
function checkNotBinary(content: Buffer, type: string): void {
  const found = looksLike(content);
  if (found !== undefined) throw new PermanentError('CORRUPT_DOCUMENT', `content looks like ${found}, not ${type}`);
}

/**
 * Plain text and Markdown: their encoding (see {@link textEncodingOf}), and content that decodes
 * to text in it (see {@link checkDecoded}). Checked before any block is read.
 *
 * @returns the encoding's WHATWG name
 */
function checkText(content: Buffer, type: string, charset: string | undefined): string {
  checkNotBinary(content, type);
  const encoding = textEncodingOf(content, charset);
  checkDecoded(headOf(content, encoding.encoding), nulOffset(content, encoding.encoding), type, encoding);
  return encoding.encoding;
}
