import { displayWidth, formatTable, terminalCell, terminalSafe, terminalSafeJson } from '../src/terminal';

/** Every character a terminal acts on or hides, by class, with how it must be shown. */
const UNSAFE: Array<[string, string, string]> = [
  ['C0: NUL', '\x00', '\\x00'],
  ['C0: BEL', '\x07', '\\x07'],
  ['C0: backspace', '\x08', '\\x08'],
  ['C0: ESC', '\x1b', '\\x1b'],
  ['C0: line feed', '\n', '\\n'],
  ['C0: carriage return', '\r', '\\r'],
  ['C0: tab', '\t', '\\t'],
  ['C0: unit separator', '\x1f', '\\x1f'],
  ['DEL', '\x7f', '\\x7f'],
  ['C1: padding character', '\u0080', '\\x80'],
  ['C1: next line', '\u0085', '\\x85'],
  ['C1: CSI', '\u009b', '\\x9b'],
  ['C1: OSC', '\u009d', '\\x9d'],
  ['C1: APC', '\u009f', '\\x9f'],
  ['bidi: left-to-right mark', '\u200e', '\\u200e'],
  ['bidi: right-to-left mark', '\u200f', '\\u200f'],
  ['bidi: arabic letter mark', '\u061c', '\\u061c'],
  ['bidi: LRE', '\u202a', '\\u202a'],
  ['bidi: RLE', '\u202b', '\\u202b'],
  ['bidi: PDF', '\u202c', '\\u202c'],
  ['bidi: LRO', '\u202d', '\\u202d'],
  ['bidi: RLO', '\u202e', '\\u202e'],
  ['bidi: LRI', '\u2066', '\\u2066'],
  ['bidi: RLI', '\u2067', '\\u2067'],
  ['bidi: FSI', '\u2068', '\\u2068'],
  ['bidi: PDI', '\u2069', '\\u2069'],
  ['format: soft hyphen', '\u00ad', '\\xad'],
  ['format: zero width space', '\u200b', '\\u200b'],
  ['format: zero width joiner, outside emoji', '\u200d', '\\u200d'],
  ['format: word joiner', '\u2060', '\\u2060'],
  ['format: invisible separator', '\u2063', '\\u2063'],
  ['format: byte order mark', '\ufeff', '\\ufeff'],
  ['format: interlinear annotation anchor', '\ufff9', '\\ufff9'],
  ['format: language tag', '\u{e0001}', '\\u{e0001}'],
  ['format: tag letter, outside a flag', '\u{e0061}', '\\u{e0061}'],
  ['line separator', '\u2028', '\\u2028'],
  ['paragraph separator', '\u2029', '\\u2029'],
  ['invisible: Hangul filler', '\u3164', '\\u3164'],
  ['invisible: Hangul choseong filler', '\u115f', '\\u115f'],
  ['lone surrogate', '\ud800', '\\ud800'],
];

describe('terminalSafe', () => {
  it.each(UNSAFE)('escapes %s', (_name, char, shown) => {
    expect(terminalSafe(`a${char}b`)).toBe(`a${shown}b`);
  });

  it('leaves no character of any class raw', () => {
    const all = UNSAFE.map(([, char]) => char).join('');
    expect(terminalSafe(all)).toMatch(/^[\x20-\x7e]+$/);
  });

  it('turns an escape sequence that would clear and recolour the screen into text', () => {
    expect(terminalSafe('\x1b[2J\x1b[H\x1b[31mowned\x1b]0;title\x07')).toBe('\\x1b[2J\\x1b[H\\x1b[31mowned\\x1b]0;title\\x07');
  });

  it.each([
    ['CJK', '東京の文書、한국어 문서, 中文文档'],
    ['accents, precomposed and combining', 'café naïve Ångström cafe\u0301 Zoë'],
    ['Cyrillic, Greek, Hebrew, Arabic', 'Привет Γειά שלום مرحبا'],
    ['emoji', '👍 🎉 ❤️ 👍🏽'],
    ['emoji joined by zero width joiners', '👩‍💻 👨‍👩‍👧 🏳️‍🌈'],
    ['flags, regional and tag sequences', '🇫🇷 🇯🇵 🏴󠁧󠁢󠁳󠁣󠁴󠁿'],
    ['Persian with a zero width non-joiner', 'می‌خواهم'],
    ['Devanagari with a zero width joiner', 'क्‍ष'],
    ['variation selectors', '︎☺︎ 葛󠄀'],
    ['printable ASCII and backslashes', 'C:\\docs\\a.txt ~!@#$%^&*()_+{}|:"<>?'],
  ])('keeps ordinary text: %s', (_name, text) => {
    expect(terminalSafe(text)).toBe(text);
  });

  it('keeps line feeds and tabs in a block of several lines, and escapes the rest', () => {
    expect(terminalSafe('a\n\tb\r\x1b', { multiline: true })).toBe('a\n\tb\\r\\x1b');
  });

  it('is idempotent', () => {
    const once = terminalSafe('\x1b\u202e東\u200d');
    expect(terminalSafe(once)).toBe(once);
  });
});

describe('terminalSafeJson', () => {
  const nasty = { tenant: 'a\x1b[2Jb\u202e\x7f\u009b\u2028\u{e0001}👩‍💻東', list: ['x\ny'] };

  it('gives the exact values back when parsed', () => {
    expect(JSON.parse(terminalSafeJson(nasty, 2))).toEqual(nasty);
    expect(JSON.parse(terminalSafeJson(nasty))).toEqual(nasty);
  });

  it('prints no unsafe character raw', () => {
    const json = terminalSafeJson(nasty, 2);
    expect(json).toContain('👩‍💻東');
    // The emoji keeps its joiner; nothing else is raw (line feeds are the layout).
    const rest = json.replace('👩‍💻', '');
    for (const [, char] of UNSAFE) if (char !== '\n') expect(rest).not.toContain(char);
    expect(json).toContain('\\u202e');
    expect(json).toContain('\\u007f');
  });
});

describe('terminalCell', () => {
  it('leaves a short value whole', () => {
    expect(terminalCell('acme', 64)).toBe('acme');
  });

  it('cuts a long value to the width, with an ellipsis', () => {
    const cell = terminalCell('t'.repeat(10_000), 64);
    expect(cell).toBe(`${'t'.repeat(63)}…`);
  });

  it('never cuts inside an escape or an emoji sequence, and counts wide characters twice', () => {
    expect(terminalCell(`abcdefgh\x1b[2J`, 10)).toBe('abcdefgh…');
    expect(terminalCell('👩‍💻👩‍💻👩‍💻', 5)).toBe('👩‍💻👩‍💻…');
    const cjk = terminalCell('東京'.repeat(50), 64);
    expect(displayWidth(cjk)).toBeLessThanOrEqual(64);
    expect(cjk.endsWith('…')).toBe(true);
  });

  it('bounds every width, escapes included', () => {
    for (const text of ['\x1b'.repeat(100), '\u202e'.repeat(100), `${'x'.repeat(61)}\u{e0001}`]) {
      expect(displayWidth(terminalCell(text, 64))).toBeLessThanOrEqual(64);
    }
  });
});

describe('formatTable', () => {
  it('aligns columns and bounds each one, so one long value does not widen every row', () => {
    const table = formatTable(
      ['TENANT', 'CODE', 'ERROR'],
      [
        ['t'.repeat(10_000), 'X', 'first'],
        ['acme', 'Y', `second \x1b[31m${'e'.repeat(500)}`],
      ],
      [64, 10, 100],
    );
    const lines = table.split('\n');
    expect(lines).toHaveLength(3);
    expect(table).not.toContain('\x1b');
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(64 + 2 + 10 + 2 + 100);
    expect(lines[1]!.indexOf('X')).toBe(lines[2]!.indexOf('Y'));
    expect(lines[2]).toContain('second \\x1b[31m');
  });

  it('aligns wide characters by their columns', () => {
    const lines = formatTable(['A', 'B'], [['東京', 'x'], ['ab', 'y']]).split('\n');
    expect(displayWidth(lines[1]!.slice(0, lines[1]!.indexOf('x')))).toBe(displayWidth(lines[2]!.slice(0, lines[2]!.indexOf('y'))));
  });
});
