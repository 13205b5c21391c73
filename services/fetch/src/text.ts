import { Outline, type Block } from './blocks';
import { CONTROL } from './encoding';

/** Bytes decoded at a time: the text formats never hold more of a document as a string than about twice this. */
const WINDOW_BYTES = 1 << 20;

// Private-use characters mark protected spans in markdown (and headings in html-to-text output);
// any the document itself contains are removed first so they cannot be mistaken for markers.
export const MARKERS = /[\uE000-\uE00F]/g;

/**
 * The lines of `content` in `encoding` (a WHATWG name, see encoding.ts; a byte order mark is
 * dropped), without line breaks and without control and marker characters, decoded one window
 * of about 1 MiB at a time, so that a 50 MB file never becomes one 50 MB string, and no character
 * is split between two windows. A line is never cut unless it is longer than a window: then it is
 * broken at its last space (or, with none, between two characters), which reads as a line break.
 */
export function linesOf(content: Buffer, encoding = 'utf-8'): Generator<string> {
  return encoding === 'utf-8' ? utf8LinesOf(content) : decodedLinesOf(content, encoding);
}

/**
 * UTF-8, the common case, the fastest way: windows of bytes that end after a line break, each
 * decoded by Buffer's decoder. The byte order mark is left to whitespace normalisation.
 */
function* utf8LinesOf(content: Buffer): Generator<string> {
  let start = 0;
  while (start < content.length) {
    let end = Math.min(start + WINDOW_BYTES, content.length);
    if (end < content.length) end = cutPoint(content, start, end);
    yield* linesIn(content.toString('utf8', start, end));
    start = end;
  }
}

/** Where a window of UTF-8 `content` between `start` and `end` (exclusive) should end. */
function cutPoint(content: Buffer, start: number, end: number): number {
  // After a '\n', or after a '\r' that is not the first half of a "\r\n" split by the window.
  const newline = content.lastIndexOf(0x0a, end - 1);
  if (newline >= start) return newline + 1;
  const cr = content.lastIndexOf(0x0d, end - 2);
  if (cr >= start) return cr + 1;
  const space = content.lastIndexOf(0x20, end - 1);
  if (space > start) return space + 1;
  // No space either: back off to the first byte of a UTF-8 sequence (never 10xxxxxx).
  let cut = end;
  while (cut > start + 1 && (content[cut]! & 0xc0) === 0x80) cut--;
  return cut;
}

/**
 * Any other encoding (UTF-16, windows-1252, Shift_JIS, ...): one streaming TextDecoder, which
 * carries a character's first bytes over to the next window; the text after a window's last line
 * break is carried over as text.
 */
function* decodedLinesOf(content: Buffer, encoding: string): Generator<string> {
  const decoder = new TextDecoder(encoding);
  let carry = '';
  for (let start = 0; start < content.length; start += WINDOW_BYTES) {
    const end = Math.min(start + WINDOW_BYTES, content.length);
    const text = carry + decoder.decode(content.subarray(start, end), { stream: end < content.length });
    let cut = lineEnd(text);
    if (cut === 0) {
      if (text.length < WINDOW_BYTES) {
        carry = text; // a line that goes on in the next window
        continue;
      }
      cut = softCut(text);
    }
    carry = text.slice(cut);
    yield* linesIn(text.slice(0, cut));
  }
  yield* linesIn(carry);
}

/** The lines of a run of complete lines, cleaned of control and marker characters. */
function linesIn(window: string): string[] {
  if (window === '') return [];
  const lines = window.replace(CONTROL, '').replace(MARKERS, '').split(/\r\n?|\n/);
  // A window that ends with a line break leaves an empty last element, which is no blank line.
  if (lines.length > 1 && lines.at(-1) === '') lines.pop();
  return lines;
}

/** Where the complete lines of `text` end: after its last line break (a '\r' at its very end may be half of a "\r\n"); 0 when it has none. */
function lineEnd(text: string): number {
  const newline = text.lastIndexOf('\n');
  // A '\r' after it (an old Mac's line break) is looked for in the rest of the line only.
  for (let at = text.length - 2; at > newline; at--) if (text.charCodeAt(at) === 0x0d) return at + 1;
  return newline + 1;
}

/** Where a line longer than a window is broken: after its last space, else between two characters (never inside a surrogate pair). */
function softCut(text: string): number {
  const space = text.lastIndexOf(' ');
  if (space > 0) return space + 1;
  const code = text.charCodeAt(text.length - 1);
  return code >= 0xd800 && code <= 0xdbff ? text.length - 1 : text.length;
}

/** Plain text in `encoding`: paragraphs separated by blank lines, no headings. */
export function* plainBlocks(content: Buffer, encoding = 'utf-8'): Generator<Block> {
  const outline = new Outline();
  for (const line of linesOf(content, encoding)) {
    outline.line(line);
    yield* outline.take();
  }
  yield* outline.finish();
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
/** Front matter longer than this many lines is taken for text: a document must not be buffered whole. */
const MAX_FRONT_MATTER_LINES = 1_000;

/** Markdown (CommonMark and GitHub's tables) in `encoding`, read line by line with one line of lookahead. */
export function* markdownBlocks(content: Buffer, encoding = 'utf-8'): Generator<Block> {
  const outline = new Outline();
  let fence: string | undefined; // the opening fence while inside a code block
  let inTable = false;
  const lines = withoutFrontMatter(linesOf(content, encoding))[Symbol.iterator]();
  let next = lines.next();
  while (!next.done) {
    const line = next.value;
    next = lines.next();
    markdownLine(line, next.done ? '' : next.value.trim());
    yield* outline.take();
  }
  yield* outline.finish();

  function markdownLine(line: string, following: string): void {
    if (fence !== undefined) {
      // Code is kept verbatim: '#' in a shell snippet is a comment, not a heading.
      const close = FENCE.exec(line)?.[1];
      const closes = close !== undefined && close[0] === fence[0] && close.length >= fence.length && line.trim() === close;
      if (closes) fence = undefined;
      outline.line(closes ? '' : line);
      return;
    }
    const open = FENCE.exec(line)?.[1];
    // A backtick fence's info string cannot hold a backtick: "```x```" is inline code, not a fence.
    if (open !== undefined && !(open[0] === '`' && line.slice(line.indexOf(open) + open.length).includes('`'))) {
      fence = open;
      outline.line('');
      return;
    }
    const heading = ATX_HEADING.exec(line);
    if (heading) {
      inTable = false;
      outline.heading(heading[1]!.length, inline(withoutClosingHashes(heading[2] ?? '')));
      return;
    }
    if (line.includes('|') && following.includes('|') && TABLE_DELIMITER.test(following)) inTable = true;
    if (inTable && line.includes('|')) {
      if (!TABLE_DELIMITER.test(line.trim())) outline.line(tableRow(line));
      return;
    }
    inTable = false;
    if (THEMATIC_BREAK.test(line) || LINK_DEFINITION.test(line)) outline.line('');
    else outline.line(inline(line.replace(BLOCK_PREFIX, '')));
  }
}

/** Drops a leading `---` ... `---` (or `...`) block; one that does not close soon is text. */
function* withoutFrontMatter(lines: Iterable<string>): Generator<string> {
  const iterator = lines[Symbol.iterator]();
  const first = iterator.next();
  if (first.done) return;
  if (!/^---[ \t]*$/.test(first.value)) {
    yield first.value;
  } else {
    const held: string[] = [first.value];
    let closed = false;
    for (let line = iterator.next(); !line.done; line = iterator.next()) {
      held.push(line.value);
      if (/^(?:---|\.\.\.)[ \t]*$/.test(line.value)) {
        closed = true;
        break;
      }
      if (held.length > MAX_FRONT_MATTER_LINES) break;
    }
    if (!closed) yield* held;
  }
  for (let line = iterator.next(); !line.done; line = iterator.next()) yield line.value;
}

/** "Title ##" -> "Title"; "C#" stays. A loop, not a regex: a regex backtracks on long '#' runs. */
function withoutClosingHashes(title: string): string {
  const trimmed = title.trimEnd();
  let end = trimmed.length;
  while (end > 0 && trimmed[end - 1] === '#') end--;
  return end === 0 || /[ \t]/.test(trimmed[end - 1]!) ? trimmed.slice(0, end) : trimmed;
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
