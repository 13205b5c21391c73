import { PermanentError } from '@docintel/core';
import { compile, type FormatCallback } from 'html-to-text';

/** A run of text under one heading path; text before the first heading has the path `[]`. */
export interface Section {
  /** Titles from the outermost heading down, e.g. `['Install', 'Linux']`. */
  heading: string[];
  text: string;
}

/** Readable text of a document, and the same text split by its headings. */
export interface ParsedDocument {
  /** The whole readable text, headings included, paragraphs separated by a blank line. */
  text: string;
  /** Non-empty sections in document order; their texts exclude the heading lines themselves. */
  sections: Section[];
}

export interface ParseOptions {
  /** Largest accepted content in bytes. @default no limit */
  maxBytes?: number;
}

const FORMATS: Readonly<Record<string, 'plain' | 'markdown' | 'html'>> = {
  'text/plain': 'plain',
  'text/markdown': 'markdown',
  'text/x-markdown': 'markdown',
  'text/html': 'html',
  'application/xhtml+xml': 'html',
};

/** Leading bytes (as latin1) of formats that are sometimes stored with a text mime type by mistake. */
const MAGIC: ReadonlyArray<readonly [string, string]> = [
  ['%PDF-', 'a PDF'], ['PK\x03\x04', 'a ZIP archive (DOCX, XLSX, ODT, ...)'],
  ['\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1', 'an OLE2 document (DOC, XLS, ...)'], ['\x89PNG\r\n\x1A\n', 'a PNG image'],
  ['\xFF\xD8\xFF', 'a JPEG image'], ['GIF8', 'a GIF image'], ['\x1F\x8B', 'gzip data'], ['{\\rtf', 'an RTF document'],
  ['\xFF\xFE', 'UTF-16 text (only UTF-8 is accepted)'], ['\xFE\xFF', 'UTF-16 text (only UTF-8 is accepted)'],
];

// Private-use characters mark headings in html-to-text output and protected spans in markdown;
// any the document itself contains are removed first so they cannot be mistaken for markers.
const MARKERS = /[\uE000-\uE00F]/g;
// C0 controls other than tab, newline, form feed, carriage return and escape (ANSI colours).
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\x01-\x08\x0B\x0E-\x1A\x1C-\x1F\x7F]/g;

/**
 * Turns stored document bytes into readable text split into heading sections.
 *
 * @param content the stored bytes, which must be UTF-8
 * @param mimeType `text/plain`, `text/markdown`, `text/x-markdown`, `text/html` or
 *   `application/xhtml+xml`; parameters such as `; charset=utf-8` are ignored
 * @throws PermanentError `UNSUPPORTED_MEDIA_TYPE`, `DOCUMENT_TOO_LARGE`, `CORRUPT_DOCUMENT`
 *   (binary or not UTF-8), `EMPTY_DOCUMENT` (no text left after parsing) or `INVALID_OPTIONS`
 */
export function parseDocument(content: Buffer, mimeType: string, options: ParseOptions = {}): ParsedDocument {
  const type = mimeType.split(';')[0]!.trim().toLowerCase();
  const format = FORMATS[type];
  if (format === undefined) {
    throw new PermanentError('UNSUPPORTED_MEDIA_TYPE', `unsupported mime type "${mimeType}"; supported: ${Object.keys(FORMATS).join(', ')}`);
  }
  const { maxBytes } = options;
  if (maxBytes !== undefined && !(Number.isInteger(maxBytes) && maxBytes > 0)) {
    throw new PermanentError('INVALID_OPTIONS', `maxBytes must be a positive whole number, got ${maxBytes}`);
  }
  if (maxBytes !== undefined && content.length > maxBytes) {
    throw new PermanentError('DOCUMENT_TOO_LARGE', `document is ${content.length} bytes, over the limit of ${maxBytes} bytes`);
  }
  const text = decodeText(content, type).replace(MARKERS, '');
  const parsed = format === 'markdown' ? parseMarkdown(text) : format === 'html' ? parseHtml(text) : new Outline().line(text).finish();
  if (parsed.text === '') throw new PermanentError('EMPTY_DOCUMENT', `document has no text after parsing it as ${type}`);
  return parsed;
}

/** The document's first heading, or `fallback` when it has none. */
export function titleOf(parsed: ParsedDocument, fallback: string): string {
  return parsed.sections.find((s) => s.heading.length > 0)?.heading[0] ?? fallback;
}

/**
 * Collapses runs of spaces and tabs, trims every line and keeps at most one blank line between
 * paragraphs. Chunk hashes depend on the result, so it must stay stable across releases.
 */
export function normaliseWhitespace(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .replace(/[^\S\n]+/g, ' ')
    .replace(/ ?\n ?/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

function decodeText(content: Buffer, type: string): string {
  const corrupt = (found: string) => new PermanentError('CORRUPT_DOCUMENT', `content ${found}, not ${type}`);
  for (const [magic, name] of MAGIC) {
    if (content.subarray(0, magic.length).toString('latin1') === magic) throw corrupt(`looks like ${name}`);
  }
  const nul = content.indexOf(0);
  if (nul !== -1) throw corrupt(`contains a NUL byte at offset ${nul}, so it is binary`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(content);
  } catch (error) {
    throw new PermanentError('CORRUPT_DOCUMENT', `content is not valid UTF-8, so it is not ${type}`, { cause: error });
  }
  // Valid UTF-8 can still be binary (e.g. a raw dump): judge by control characters near the start.
  const head = text.slice(0, 8192);
  const controls = head.match(CONTROL)?.length ?? 0;
  if (controls > head.length / 10) throw corrupt(`looks binary (${controls} control characters in its first ${head.length})`);
  return text.replace(CONTROL, '');
}

/** Collects body text under a heading path as a document is read from top to bottom. */
class Outline {
  private readonly path: { level: number; title: string }[] = [];
  private readonly sections: Section[] = [];
  private readonly parts: string[] = [];
  private body: string[] = [];

  heading(level: number, rawTitle: string): void {
    const title = normaliseWhitespace(rawTitle).replace(/\n/g, ' ');
    if (title === '') return; // an empty heading names nothing, so it does not change the path
    this.flush();
    while ((this.path.at(-1)?.level ?? 0) >= level) this.path.pop();
    this.path.push({ level, title });
    this.parts.push(title);
  }

  line(text: string): this {
    this.body.push(text);
    return this;
  }

  finish(): ParsedDocument {
    this.flush();
    const text = this.parts.join('\n\n');
    // A document of headings alone still has text; it must still give one chunk.
    return { text, sections: this.sections.length > 0 || text === '' ? this.sections : [{ heading: [], text }] };
  }

  private flush(): void {
    const text = normaliseWhitespace(this.body.join('\n'));
    this.body = [];
    if (text === '') return;
    this.sections.push({ heading: this.path.map((h) => h.title), text });
    this.parts.push(text);
  }
}

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
  // recurses once per nesting level: deeper than this it writes the ellipsis marker, see parseHtml.
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

function parseHtml(html: string): ParsedDocument {
  const outline = new Outline();
  const converted = htmlConverter(html);
  // Rejected rather than cut: silently losing the text of a malformed page is worse.
  if (converted.includes(TOO_DEEP)) throw new PermanentError('CORRUPT_DOCUMENT', `content nests elements more than ${MAX_HTML_DEPTH} deep`);
  const headingMarker = /\uE000([1-6])\uE001([^\uE002]*)\uE002/g;
  let start = 0;
  for (const match of converted.matchAll(headingMarker)) {
    outline.line(converted.slice(start, match.index));
    outline.heading(Number(match[1]), match[2] ?? '');
    start = match.index + match[0].length;
  }
  outline.line(converted.slice(start));
  return outline.finish();
}

// ---- Markdown ---------------------------------------------------------------------------------

const ATX_HEADING = /^ {0,3}(#{1,6})(?:[ \t]+(.*))?$/;
const FENCE = /^\s*(`{3,}|~{3,})/;
// Tested on trimmed lines: adjacent `\s*` around optional parts would backtrack quadratically.
const TABLE_DELIMITER = /^\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?$/;
const THEMATIC_BREAK = /^ {0,3}(?:([-*_])(?:[ \t]*\1){2,}|=+)[ \t]*$/;
const LINK_DEFINITION = /^ {0,3}\[[^\]^][^\]]*\]:\s*\S/;
const BLOCK_PREFIX = /^\s*(?:>\s?)*\s*(?:#{1,6}\s+|\[\^[^\]]+\]:\s*)?(?:(?:[-*+]|\d{1,9}[.)])\s+(?:\[[ xX]\]\s+)?)?/;
const ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' };

function parseMarkdown(markdown: string): ParsedDocument {
  const outline = new Outline();
  const lines = stripFrontMatter(markdown.replace(/\r\n?/g, '\n')).split('\n');
  let fence: string | undefined; // the opening fence while inside a code block
  let inTable = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (fence !== undefined) {
      // Code is kept verbatim: '#' in a shell snippet is a comment, not a heading.
      const close = FENCE.exec(line)?.[1];
      const closes = close !== undefined && close[0] === fence[0] && close.length >= fence.length && line.trim() === close;
      if (closes) fence = undefined;
      outline.line(closes ? '' : line);
      continue;
    }
    const open = FENCE.exec(line)?.[1];
    // A backtick fence's info string cannot hold a backtick: "```x```" is inline code, not a fence.
    if (open !== undefined && !(open[0] === '`' && line.slice(line.indexOf(open) + open.length).includes('`'))) {
      fence = open;
      outline.line('');
      continue;
    }
    const heading = ATX_HEADING.exec(line);
    if (heading) {
      inTable = false;
      outline.heading(heading[1]!.length, inline(withoutClosingHashes(heading[2] ?? '')));
      continue;
    }
    const next = lines[i + 1]?.trim() ?? '';
    if (line.includes('|') && next.includes('|') && TABLE_DELIMITER.test(next)) inTable = true;
    if (inTable && line.includes('|')) {
      if (!TABLE_DELIMITER.test(line.trim())) outline.line(tableRow(line));
      continue;
    }
    inTable = false;
    if (THEMATIC_BREAK.test(line) || LINK_DEFINITION.test(line)) outline.line('');
    else outline.line(inline(line.replace(BLOCK_PREFIX, '')));
  }
  return outline.finish();
}

/** "Title ##" -> "Title"; "C#" stays. A loop, not a regex: a regex backtracks on long '#' runs. */
function withoutClosingHashes(title: string): string {
  const trimmed = title.trimEnd();
  let end = trimmed.length;
  while (end > 0 && trimmed[end - 1] === '#') end--;
  return end === 0 || /[ \t]/.test(trimmed[end - 1]!) ? trimmed.slice(0, end) : trimmed;
}

function stripFrontMatter(markdown: string): string {
  const match = /^---[ \t]*\n[\s\S]*?\n(?:---|\.\.\.)[ \t]*(?:\n|$)/.exec(markdown);
  return match ? markdown.slice(match[0].length) : markdown;
}

function tableRow(line: string): string {
  const cells = line.trim().replace(/^\|/, '').replace(/(?<!\\)\|$/, '').split(/(?<!\\)\|/);
  return cells.map((cell) => inline(cell.trim())).filter((cell) => cell !== '').join(' ');
}

/** Strips inline markdown from one line, keeping what a reader sees. */
function inline(text: string): string {
  // Code spans, escapes and autolinks are set aside first so emphasis rules cannot touch them.
  // Spans are bounded ({1,500}): unbounded lazy scans are quadratic on a long line of unmatched
  // markers, which a tenant's document must not be able to turn into minutes of CPU.
  const kept: string[] = [];
  const keep = (value: string) => `\uE000${kept.push(value) - 1}\uE001`;
  return text
    .replace(/(?<!`)(`+)(?!`)(.{1,2000}?)(?<!`)\1(?!`)|\\([!-/:-@[-`{-~])/g, (_m, _t, code?: string, esc?: string) => keep(code?.trim() ?? esc ?? ''))
    .replace(/<((?:https?|ftp|mailto):[^\s<>]+)>/gi, (_m, url: string) => keep(url))
    .replace(/!\[([^\]]{0,500})\](?:\((?:[^()]|\([^()]{0,500}\)){0,2000}\)|\[[^\]]{0,500}\])/g, '$1')
    .replace(/\[([^\]]{1,500})\](?:\((?:[^()]|\([^()]{0,500}\)){0,2000}\)|\[[^\]]{0,500}\])/g, '$1')
    .replace(/\[\^[^\]]{1,100}\]/g, '')
    .replace(/<!--.{0,2000}?-->|<\/?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?\/?>/g, '')
    .replace(/\*\*(?=\S)(.{1,500}?)(?<=\S)\*\*|(?<!\w)__(?=\S)(.{1,500}?)(?<=\S)__(?!\w)|~~(?=\S)(.{1,500}?)(?<=\S)~~/g, '$1$2$3')
    .replace(/\*(?=\S)(.{1,500}?)(?<=\S)\*|(?<!\w)_(?=\S)(.{1,500}?)(?<=\S)_(?!\w)/g, '$1$2')
    .replace(/&(?:#(\d{1,7})|#x([0-9a-f]{1,6})|([a-z]+));/gi, (entity, dec?: string, hex?: string, name?: string) => {
      const code = dec !== undefined ? Number(dec) : hex !== undefined ? parseInt(hex, 16) : undefined;
      // Controls and our marker characters stay encoded: they are not text.
      if (code !== undefined) return code >= 0x20 && code <= 0x10ffff && (code < 0xe000 || code > 0xe00f) ? String.fromCodePoint(code) : entity;
      return ENTITIES[name!.toLowerCase()] ?? entity;
    })
    .replace(/\uE000(\d+)\uE001/g, (_m, i: string) => kept[Number(i)] ?? '');
}
