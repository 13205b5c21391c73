import { isUtf8 } from 'node:buffer';
import { PermanentError } from '@docintel/core';

/**
 * Character encodings of the text formats, by the WHATWG Encoding Standard, decoded by Node's
 * TextDecoder (full ICU: UTF-8, UTF-16LE/BE, windows-125x, ISO-8859-x, KOI8, EUC-KR, EUC-JP,
 * Shift_JIS, ISO-2022-JP, GBK, gb18030, Big5, ...), which also maps the standard's labels to its
 * encodings ("latin1" and "ascii" are windows-1252, "x-sjis" is Shift_JIS). HTML is sniffed in
 * the parse processes (html.ts: BOM, Content-Type, then the `<meta>` prescan); plain text and
 * Markdown here: a BOM, then the mime type's charset, then UTF-8 when the bytes are valid UTF-8,
 * else windows-1252 (as browsers read undeclared text).
 */

/** Why an encoding was chosen. */
export type EncodingSource = 'bom' | 'declared' | 'detected' | 'default';

export interface TextEncoding {
  /** A WHATWG encoding name, lowercase, that TextDecoder takes: 'utf-8', 'utf-16le', 'windows-1252', ... */
  encoding: string;
  source: EncodingSource;
}

/** The `charset` parameter of a mime type (`text/html; charset="EUC-KR"` gives `EUC-KR`); undefined when it has none. */
export function charsetOf(mimeType: string): string | undefined {
  const match = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(mimeType);
  const value = (match?.[1] ?? match?.[2])?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/**
 * The encoding a label names, by the standard's table (Node's TextDecoder implements it);
 * undefined for an unknown label, and for the "replacement" labels (ISO-2022-KR, HZ-GB-2312, ...),
 * which the standard forbids decoding.
 */
export function encodingOfLabel(label: string): string | undefined {
  try {
    return new TextDecoder(label).encoding;
  } catch {
    return undefined;
  }
}

/** The encoding a byte order mark at the start of `content` names, and its length. */
export function bomOf(content: Uint8Array): { encoding: 'utf-8' | 'utf-16le' | 'utf-16be'; length: number } | undefined {
  if (content[0] === 0xef && content[1] === 0xbb && content[2] === 0xbf) return { encoding: 'utf-8', length: 3 };
  if (content[0] === 0xff && content[1] === 0xfe) return { encoding: 'utf-16le', length: 2 };
  if (content[0] === 0xfe && content[1] === 0xff) return { encoding: 'utf-16be', length: 2 };
  return undefined;
}

/**
 * Plain text's and Markdown's encoding: a BOM, else the declared charset (an unknown label is
 * ignored, as browsers do), else UTF-8 when the whole content is valid UTF-8 (checked natively,
 * without making a string), else windows-1252.
 */
export function textEncodingOf(content: Buffer, declared: string | undefined): TextEncoding {
  const bom = bomOf(content);
  if (bom !== undefined) return { encoding: bom.encoding, source: 'bom' };
  const named = declared === undefined ? undefined : encodingOfLabel(declared);
  if (named !== undefined) return { encoding: named, source: 'declared' };
  return isUtf8(content) ? { encoding: 'utf-8', source: 'detected' } : { encoding: 'windows-1252', source: 'default' };
}

// C0 controls other than tab, newline, form feed, carriage return and escape (ANSI colours).
// eslint-disable-next-line no-control-regex -- finding control characters is the point
export const CONTROL = /[\x01-\x08\x0B\x0E-\x1A\x1C-\x1F\x7F]/g;

/** Characters of the start of a document that the binary checks look at. */
const HEAD_CHARS = 8192;

/**
 * Content that decodes, but not to text: a NUL character anywhere, or, in its first 8192
 * characters, more than one in ten control characters, or more than one in ten that cannot be
 * decoded (U+FFFD: bytes that are not text in that encoding).
 *
 * @param head the decoded start of the content, at least {@link HEAD_CHARS} characters when it has them
 * @param nul the offset of the first NUL character's bytes, or -1
 * @throws PermanentError CORRUPT_DOCUMENT
 */
export function checkDecoded(head: string, nul: number, type: string, encoding: TextEncoding): void {
  const corrupt = (found: string) => new PermanentError('CORRUPT_DOCUMENT', `content ${found}, not ${type}`, { details: { encoding: encoding.encoding } });
  if (nul !== -1) throw corrupt(`contains a NUL character at byte ${nul}, so it is binary`);
  const start = head.slice(0, HEAD_CHARS);
  const controls = start.match(CONTROL)?.length ?? 0;
  if (controls > start.length / 10) throw corrupt(`looks binary (${controls} control characters in its first ${start.length})`);
  const undecodable = start.match(/\uFFFD/g)?.length ?? 0;
  if (undecodable > start.length / 10) {
    const how = encoding.source === 'bom' ? 'its byte order mark says' : encoding.source === 'declared' ? 'its charset says' : 'it seemed to be';
    throw corrupt(`is not text in ${encoding.encoding}, which ${how} (${undecodable} of its first ${start.length} characters cannot be decoded)`);
  }
}

/** The decoded start of `content` in `encoding`, for {@link checkDecoded}. */
export function headOf(content: Uint8Array, encoding: string): string {
  // Bytes enough for HEAD_CHARS characters in any encoding (4 bytes at most per character); a
  // character cut at the end of them is not counted as undecodable, one at the end of the content is.
  const bytes = HEAD_CHARS * 4;
  return new TextDecoder(encoding).decode(content.subarray(0, bytes), { stream: content.length > bytes });
}

/** The byte offset of the first NUL character of `content` in `encoding`, or -1. */
export function nulOffset(content: Uint8Array, encoding: string): number {
  if (encoding !== 'utf-16le' && encoding !== 'utf-16be') return Buffer.from(content.buffer, content.byteOffset, content.byteLength).indexOf(0);
  for (let at = 0; at + 1 < content.length; at += 2) {
    if (content[at] === 0 && content[at + 1] === 0) return at;
  }
  return -1;
}
