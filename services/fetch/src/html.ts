import { PermanentError, errorMessage } from '@docintel/core';
import { compile, type FormatCallback } from 'html-to-text';
import mammoth from 'mammoth';
import { Outline, type Block } from './blocks';
import { CONTROL, MARKERS } from './text';

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
 * blocks carry none.
 */
export async function* docxBlocks(content: Buffer): AsyncGenerator<Block> {
  let html: string;
  try {
    html = (await mammoth.convertToHtml({ buffer: content }, MAMMOTH_OPTIONS)).value;
  } catch (error) {
    throw new PermanentError('CORRUPT_DOCUMENT', `content is not a readable DOCX: ${errorMessage(error)}`, { cause: error });
  }
  yield* htmlBlocks(html);
}

/**
 * Whether a ZIP archive's central directory lists `name`, read from the directory itself without
 * unpacking anything; undefined when the directory cannot be found or read (a truncated archive,
 * or ZIP64, which no DOCX within the size limit needs).
 */
export function zipHasEntry(zip: Buffer, name: string): boolean | undefined {
  // The end-of-central-directory record: 22 bytes plus a comment of up to 65,535 bytes.
  const END = 0x06054b50;
  const ENTRY = 0x02014b50;
  let end = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === END) {
      end = i;
      break;
    }
  }
  if (end < 0) return undefined;
  const entries = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  if (entries === 0xffff || at === 0xffffffff) return undefined;
  for (let n = 0; n < entries; n++) {
    if (at + 46 > zip.length || zip.readUInt32LE(at) !== ENTRY) return undefined;
    const nameLength = zip.readUInt16LE(at + 28);
    if (zip.toString('utf8', at + 46, at + 46 + nameLength) === name) return true;
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return false;
}
