/**
 * Terminal-safe output of text the CLI did not write itself (tenant ids, headers, titles, chunk
 * text, error messages). A terminal acts on some characters instead of showing them: escape
 * sequences clear or recolour the screen, C1 controls do the same in one character, bidirectional
 * controls reorder what follows, and format characters are invisible. `terminalSafe` shows each of
 * them as an escape (`\x1b`, `\u202e`, `\u{e0001}`) and leaves every other character, including
 * CJK, accents and emoji, as it is. Backslashes are not escaped: `--json` is the exact form.
 */

/** Scripts whose ordinary spelling uses the zero-width (non-)joiner between letters (Persian, Indic). */
const JOINER_SCRIPT = String.raw`\p{sc=Arabic}\p{sc=Syriac}\p{sc=Devanagari}\p{sc=Bengali}\p{sc=Gurmukhi}\p{sc=Gujarati}\p{sc=Oriya}\p{sc=Tamil}\p{sc=Telugu}\p{sc=Kannada}\p{sc=Malayalam}\p{sc=Sinhala}`;
const EMOJI = String.raw`\p{Extended_Pictographic}(?:\u{FE0F}|\p{Emoji_Modifier})?`;
/**
 * Invisible characters that are part of ordinary text, kept whole: emoji joined by U+200D (👩‍💻),
 * emoji tag sequences (subdivision flags), and joiners between letters of a script that uses them.
 */
const KEEP = [
  String.raw`${EMOJI}(?:\u200D${EMOJI})+`,
  String.raw`\u{1F3F4}[\u{E0020}-\u{E007E}]+\u{E007F}`,
  String.raw`(?<=[${JOINER_SCRIPT}]\p{M}*)[\u200C\u200D](?=[${JOINER_SCRIPT}])`,
].join('|');
/**
 * Controls (C0, DEL, C1: `\p{Cc}`), format characters (`\p{Cf}`: bidirectional marks, embeddings,
 * overrides and isolates, U+061C, zero-width characters, the BOM, tags), line and paragraph
 * separators, lone surrogates, and the other default-ignorable (invisible) characters such as the
 * Hangul fillers. Variation selectors are left alone: they only choose a glyph for the character
 * before them.
 */
const UNSAFE = String.raw`(?!\p{Variation_Selector})[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Default_Ignorable_Code_Point}]`;
const PATTERN = new RegExp(`(${KEEP})|${UNSAFE}`, 'gu');
/** The same, with line feeds and tabs left as they are (a block of several lines). */
const PATTERN_MULTILINE = new RegExp(`(${KEEP})|(?![\n\t])${UNSAFE}`, 'gu');

const SHORT: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function hex(code: number, digits: number): string {
  return code.toString(16).padStart(digits, '0');
}

/** `\n`, `\x1b`, `\u202e`, `\u{e0001}`: how one unsafe character is shown. */
export function escapeCharacter(char: string): string {
  const short = SHORT[char];
  if (short) return short;
  const code = char.codePointAt(0)!;
  if (code < 0x100) return `\\x${hex(code, 2)}`;
  if (code < 0x10000) return `\\u${hex(code, 4)}`;
  return `\\u{${hex(code, 5)}}`;
}

export interface TerminalSafeOptions {
  /** Keep line feeds and tabs (a block of several lines). @default false: one line */
  multiline?: boolean;
}

/** The text with every character a terminal would act on, or not show, escaped. */
export function terminalSafe(text: string, options: TerminalSafeOptions = {}): string {
  return text.replace(options.multiline ? PATTERN_MULTILINE : PATTERN, (char: string, kept: string | undefined) => kept ?? escapeCharacter(char));
}

/**
 * JSON whose every unsafe character (see {@link terminalSafe}) is a `\u` escape, so the same
 * values, exactly, reach a terminal as plain ASCII escapes; JSON.stringify alone leaves DEL, C1,
 * bidirectional and format characters raw.
 */
export function terminalSafeJson(value: unknown, indent?: number): string {
  // JSON.stringify escapes C0 controls inside strings, so a line feed left in its output is layout;
  // the other characters matched lie inside string literals.
  return JSON.stringify(value, null, indent).replace(PATTERN_MULTILINE, (char: string, kept: string | undefined) => {
    if (kept !== undefined) return kept;
    let out = '';
    for (let i = 0; i < char.length; i += 1) out += `\\u${hex(char.charCodeAt(i), 4)}`;
    return out;
  });
}

const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
const WIDE = /^[\u{1100}-\u{115F}\u{2E80}-\u{303E}\u{3041}-\u{33FF}\u{3400}-\u{4DBF}\u{4E00}-\u{9FFF}\u{A000}-\u{A4CF}\u{AC00}-\u{D7A3}\u{F900}-\u{FAFF}\u{FE30}-\u{FE4F}\u{FF00}-\u{FF60}\u{FFE0}-\u{FFE6}\u{20000}-\u{3FFFD}]|^\p{Emoji_Presentation}|^\p{Extended_Pictographic}\u{FE0F}/u;
const ZERO_WIDTH = /^\p{M}/u;

/** Columns a grapheme takes on a terminal: 2 for East Asian wide characters and emoji, else 1. */
function columnsOf(grapheme: string): number {
  if (WIDE.test(grapheme)) return 2;
  return ZERO_WIDTH.test(grapheme) ? 0 : 1;
}

function columns(safe: string): number {
  let width = 0;
  for (const { segment } of graphemes.segment(safe)) width += columnsOf(segment);
  return width;
}

/** Columns the text takes on a terminal, as {@link terminalSafe} shows it. */
export function displayWidth(text: string): number {
  return columns(terminalSafe(text));
}

/**
 * The text made terminal-safe and cut to `max` columns with an ellipsis (…), between graphemes and
 * never inside an escape: a table cell.
 */
export function terminalCell(text: string, max: number): string {
  const safe = terminalSafe(text);
  if (columns(safe) <= max) return safe;
  let used = 0;
  let end = 0;
  for (const { segment, index } of graphemes.segment(text)) {
    // Escaped on its own, a grapheme is never shorter than in context: the cut stays within max.
    const width = displayWidth(segment);
    if (used + width > max - 1) break;
    used += width;
    end = index + segment.length;
  }
  return `${terminalSafe(text.slice(0, end))}…`;
}

/** The text padded with spaces to `width` columns. */
export function padCell(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - displayWidth(text)));
}

/** How wide a table's column may be unless the table says otherwise: room for a tenant or document id. */
export const CELL_WIDTH = 64;

/**
 * A plain text table of terminal-safe cells: each cut to its column's width (`widths[i]`, by
 * default {@link CELL_WIDTH}), so one long value cannot stretch every row; the last column is not
 * padded.
 */
export function formatTable(header: string[], rows: string[][], widths: number[] = []): string {
  const cells = [header, ...rows].map((row) => row.map((cell, i) => terminalCell(cell, widths[i] ?? CELL_WIDTH)));
  const columnWidths = header.map((_, i) => Math.max(...cells.map((row) => displayWidth(row[i] ?? ''))));
  const line = (row: string[]) => row.map((cell, i) => (i === row.length - 1 ? cell : padCell(cell, columnWidths[i]!))).join('  ');
  return cells.map(line).join('\n');
}
