import { isUtf8 } from 'node:buffer';
import { PermanentError } from '@docintel/core';
import { compile, type FormatCallback } from 'html-to-text';
import sniffHtmlEncoding from 'html-encoding-sniffer';
import mammoth from 'mammoth';
import { Outline, type Block } from './blocks';
import { CONTROL, checkDecoded, encodingOfLabel, nulOffset, type TextEncoding } from './encoding';
import { docxFailure } from './parse-errors';
import { MARKERS } from './text';
import { BoundedZip, type InflateLimits } from './zip';

// ---- HTML -------------------------------------------------------------------------------------

const headingFormatter: FormatCallback = (elem, walk, builder) => {
  builder.openBlock({ leadingLineBreaks: 2 });
  builder.addLiteral(`\uE000${elem.name?.slice(1) ?? '1'}\uE001`);
  walk(elem.children ?? [], builder);
  builder.addLiteral('\uE002');
  builder.closeBlock({ trailingLineBreaks: 2 });
};

const imageFormatter: FormatCallback = (elem, _walk, builder) => {
  // The typings leave attributes as `any`; htmlparser2 gives a string map.
  const alt = (elem.attribs as Record<string, string | undefined> | undefined)?.alt;
  if (alt) builder.addInline(alt);
};

const MAX_HTML_DEPTH = 1000;
const TOO_DEEP = '\uE003';

// Compiled once: html-to-text builds a selector decision tree per options object.
const htmlConverter = compile({
  wordwrap: false,
  // The library truncates input over 16 MiB silently (maxBytes is the limit that counts), and
  // recurses once per nesting level: deeper than this it writes the ellipsis marker, see htmlBlocks.
  limits: { maxInputLength: Number.MAX_SAFE_INTEGER, maxDepth: MAX_HTML_DEPTH, ellipsis: TOO_DEEP },
  formatters: { heading: headingFormatter, altText: imageFormatter },
  selectors: [
    ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((selector) => ({ selector, format: 'heading' })),
    ...['head', 'title', 'script', 'style', 'noscript', 'template', 'nav', 'svg', 'hr'].map((selector) => ({ selector, format: 'skip' })),
    // Lists and quotes as plain blocks: markers and '> ' prefixes carry no meaning for search.
    ...['ul', 'ol', 'blockquote'].map((selector) => ({ selector, format: 'block' })),
    { selector: 'li', format: 'block', options: { leadingLineBreaks: 1, trailingLineBreaks: 1 } },
    { selector: 'a', options: { ignoreHref: true } },
    { selector: 'img', format: 'altText' },
    { selector: 'table', format: 'dataTable', options: { uppercaseHeaderCells: false } },
  ],
});

/**
 * The encoding of an HTML document, by the HTML Standard's sniffing algorithm
 * (html-encoding-sniffer): a byte order mark, else the mime type's `charset` (`transport`), else a
 * `<meta charset>` or `<meta http-equiv="Content-Type">` in the first 1024 bytes (or an XML
 * declaration), else, where a browser would guess, UTF-8 when the whole content is valid UTF-8
 * (the standard lets a user agent detect it, and browsers do for files), and windows-1252 otherwise.
 */
export function htmlEncodingOf(content: Uint8Array, transport: string | undefined): TextEncoding {
  const utf8 = isUtf8(content);
  const sniffed = sniffHtmlEncoding(content, { defaultEncoding: utf8 ? 'UTF-8' : 'windows-1252', ...(transport === undefined ? {} : { transportLayerEncodingLabel: transport }) });
  const encoding = encodingOfLabel(sniffed);
  if (encoding === undefined) {
    // "replacement": ISO-2022-KR, HZ-GB-2312 and the like, which the standard forbids decoding.
    throw new PermanentError('CORRUPT_DOCUMENT', `content declares a charset that cannot be read safely (${sniffed === 'replacement' ? 'ISO-2022-KR, HZ-GB-2312 or another that the WHATWG Encoding Standard maps to "replacement"' : sniffed})`);
  }
  return { encoding, source: 'declared' };
}

/**
 * The text of HTML bytes: sniffed ({@link htmlEncodingOf}), decoded by TextDecoder (a byte order
 * mark dropped), and checked to be text in that encoding (encoding.ts's checkDecoded).
 *
 * @throws PermanentError CORRUPT_DOCUMENT
 */
export function decodeHtml(content: Uint8Array, transport: string | undefined): string {
  const encoding = htmlEncodingOf(content, transport);
  const text = new TextDecoder(encoding.encoding).decode(content);
  checkDecoded(text, nulOffset(content, encoding.encoding), 'HTML', encoding);
  return text;
}

/**
 * HTML, through html-to-text. Unlike the other text formats it is converted whole: the library
 * needs the complete tree. The blocks are still cut from its output lazily.
 */
export function* htmlBlocks(html: string): Generator<Block> {
  const converted = htmlConverter(html.replace(CONTROL, '').replace(MARKERS, ''));
  // Rejected rather than cut: silently losing the text of a malformed page is worse.
  if (converted.includes(TOO_DEEP)) throw new PermanentError('CORRUPT_DOCUMENT', `content nests elements more than ${MAX_HTML_DEPTH} deep`);
  const outline = new Outline();
  const headingMarker = /\uE000([1-6])\uE001([^\uE002]*)\uE002/g;
  let start = 0;
  for (const match of converted.matchAll(headingMarker)) {
    outline.text(converted.slice(start, match.index));
    outline.heading(Number(match[1]), match[2] ?? '');
    yield* outline.take();
    start = match.index + match[0].length;
  }
  outline.text(converted.slice(start));
  yield* outline.finish();
}

// ---- DOCX -------------------------------------------------------------------------------------

const MAMMOTH_OPTIONS = {
  // The Title style starts the outline like a top heading; mammoth's defaults map Heading 1-6.
  styleMap: ["p[style-name='Title'] => h1:fresh", "p[style-name='Subtitle'] => h2:fresh"],
  // Images become their alt text; the default would inline every image as a base64 data URI.
  convertImage: mammoth.images.imgElement(async () => ({ src: '' })),
  // A tenant's document must not make us read files or URLs it links to.
  externalFileAccess: false,
};

/**
 * A Word document (Office Open XML), through mammoth to HTML: headings are the Heading 1-6
 * (and Title) paragraph styles. DOCX has no fixed pages (they depend on the renderer), so its
 * blocks carry none. mammoth reads the archive's parts through {@link BoundedZip}, so what they
 * inflate to is checked before and counted while they are inflated.
 *
 * @throws PermanentError `CORRUPT_DOCUMENT` (see {@link docxFailure}), `PARSE_LIMIT` (a decompression limit)
 */
export async function* docxBlocks(content: Buffer, limits: InflateLimits): AsyncGenerator<Block> {
  let html: string;
  try {
    const zip = new BoundedZip(content, limits);
    // mammoth's own input for an opened archive (lib/unzip.js), left out of its typings: it
    // reads parts by name and never needs the rest. Images are never read (convertImage).
    const file = {
      exists: (name: string) => zip.has(name),
      read: async (name: string, encoding?: string) => {
        const bytes = zip.read(name);
        if (encoding === 'base64') return bytes.toString('base64');
        return encoding ? new TextDecoder(encoding).decode(bytes) : bytes;
      },
    };
    html = (await mammoth.convertToHtml({ file } as unknown as { buffer: Buffer }, MAMMOTH_OPTIONS)).value;
  } catch (error) {
    throw docxFailure(error);
  }
  yield* htmlBlocks(html);
}
