import { PermanentError } from '@docintel/core';
import { closeDefaultParsePool, normaliseWhitespace, parseDocument, type Block } from '../src/parse';
import { linesOf } from '../src/text';

// HTML is parsed in the default pool's processes.
afterAll(() => closeDefaultParsePool());

interface Parsed {
  /** The text of every section, paragraphs apart. */
  text: string;
  /** Consecutive blocks under one heading path, joined as in the source. */
  sections: { heading: readonly string[]; text: string }[];
}

/** Parses the whole document and puts its blocks back together by section. */
async function parse(text: string | Buffer, mimeType: string, maxBytes?: number): Promise<Parsed> {
  const blocks: Block[] = [];
  for await (const block of parseDocument(typeof text === 'string' ? Buffer.from(text) : text, mimeType, maxBytes === undefined ? {} : { maxBytes })) {
    blocks.push(block);
  }
  const sections: Parsed['sections'] = [];
  for (const block of blocks) {
    const last = sections.at(-1);
    if (last && last.heading.join('\0') === block.heading.join('\0')) last.text += block.sep + block.text;
    else sections.push({ heading: block.heading, text: block.text });
  }
  return { text: sections.map((s) => s.text).join('\n\n'), sections };
}

const textOf = async (text: string | Buffer, mimeType: string, maxBytes?: number) => (await parse(text, mimeType, maxBytes)).text;
const sectionsOf = async (text: string | Buffer, mimeType: string) => (await parse(text, mimeType)).sections;

/** The PermanentError `fn` rejects with; fails the test if it rejects with anything else or not at all. */
async function rejection(fn: () => Promise<unknown>): Promise<PermanentError> {
  try {
    await fn();
  } catch (error) {
    if (error instanceof PermanentError) return error;
    throw error;
  }
  throw new Error('expected a PermanentError, but nothing was thrown');
}

describe('parseDocument: text/plain', () => {
  it('normalises whitespace and keeps paragraph breaks as one blank line', async () => {
    const parsed = await parse('\uFEFF  Hello   world\t!\r\n\r\n\r\n\r\nSecond  para\nline two  \n\f', 'text/plain');
    expect(parsed).toEqual({
      text: 'Hello world !\n\nSecond para\nline two',
      sections: [{ heading: [], text: 'Hello world !\n\nSecond para\nline two' }],
    });
  });

  it('ignores mime parameters and case', async () => {
    expect(await textOf('café', 'Text/Plain; charset=UTF-8')).toBe('café');
  });

  it('drops stray control characters and ANSI escape sequences whole, which the binary check does not count', async () => {
    expect(await textOf('a\x07b \x1b[1mbold\x1b[0m \x1b[38;5;208mcolour\x1b[m', 'text/plain')).toBe('ab bold colour');
  });

  it('drops non-characters, C1 controls and runs of replacement characters, keeping a single one', async () => {
    const text = 'Tide\uFFFF\uFFFF\uFFFE tables\uFDD0 \u0085for kayaks \uD83D\uDEA3 \uFFFD\uFFFD \uFFFD\uFFFD launch na\uFFFDve at the slipway on the north side of the harbour, \u{10FFFF}end';
    expect(await textOf(text, 'text/plain')).toBe('Tide tables for kayaks \uD83D\uDEA3 launch na\uFFFDve at the slipway on the north side of the harbour, end');
  });
});

describe('parseDocument: character encodings', () => {
  // 카약 안전 in EUC-KR, カヤック安全 in Shift_JIS, Байдарка in windows-1251 (by iconv).
  const KOREAN = Buffer.from('c4abbee020bec8c0fc', 'hex');
  const JAPANESE = Buffer.from('834a83848362834e88c09153', 'hex');
  const RUSSIAN = Buffer.from('c1e0e9e4e0f0eae0', 'hex');
  const utf16be = (text: string) => Buffer.from(text, 'utf16le').swap16();

  it.each([
    ['UTF-8 with a byte order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('café ☕')]), 'text/plain', 'café ☕'],
    ['UTF-16LE with a byte order mark', Buffer.from('\ufeffcafé 카약\r\nline two', 'utf16le'), 'text/plain', 'café 카약\nline two'],
    ['UTF-16BE with a byte order mark', utf16be('\ufeff# Title\n\ncafé 카약'), 'text/markdown', 'café 카약'],
    ['a declared charset', KOREAN, 'text/plain; charset=EUC-KR', '카약 안전'],
    ['a quoted label the standard maps to its encoding (x-sjis)', JAPANESE, 'text/plain; charset="x-sjis"', 'カヤック安全'],
    ['windows-1251 Markdown', RUSSIAN, 'text/markdown;charset=windows-1251', 'Байдарка'],
    ['latin1, which is windows-1252', Buffer.from('caf\xe9 \x80 5', 'latin1'), 'text/plain; charset=latin1', 'café € 5'],
    ['undeclared UTF-8', Buffer.from('café'), 'text/plain', 'café'],
    ['undeclared bytes that are not UTF-8, as windows-1252', Buffer.from('na\xefve \x93quoted\x94', 'latin1'), 'text/plain', 'naïve “quoted”'],
    ['a byte order mark over a declared charset', Buffer.from('\ufeffcafé', 'utf16le'), 'text/plain; charset=iso-8859-1', 'café'],
    ['an unknown label, ignored', Buffer.from('café'), 'text/plain; charset=no-such-thing', 'café'],
  ])('reads %s', async (_name, content, type, text) => {
    expect(await textOf(content, type)).toBe(text);
  });

  it('decodes characters split between two windows whole, in UTF-8, UTF-16 and Shift_JIS, in bounded windows', () => {
    // Over 2 MiB each, so several 1 MiB windows, whose ends fall inside multi-byte characters.
    const line = '카약 안전 カヤック Байдарка café';
    const lines = Array.from({ length: 60_000 }, (_, i) => `${i} ${line}`);
    const text = `${lines.join('\n')}\n`;
    expect([...linesOf(Buffer.from(text), 'utf-8')]).toEqual(lines);
    expect([...linesOf(Buffer.from(`\ufeff${text}`, 'utf16le'), 'utf-16le')]).toEqual(lines);
    expect([...linesOf(Buffer.from(`\ufeff${text}`, 'utf16le').swap16(), 'utf-16be')]).toEqual(lines);
    const sjis = Array.from({ length: 200_000 }, () => JAPANESE);
    const decoded = [...linesOf(Buffer.concat(sjis), 'shift_jis')];
    expect(decoded.join('')).toBe('カヤック安全'.repeat(200_000));
    // A line longer than a window is broken at a space; nothing is lost.
    expect(decoded.length).toBeGreaterThan(1);
    expect(decoded.every((piece) => piece.length <= 2 << 20)).toBe(true);
  });

  it('breaks a line longer than a window at its last space, losing nothing', () => {
    const words = Array.from({ length: 500_000 }, (_, i) => `w${i}`);
    const pieces = [...linesOf(Buffer.from(words.join(' ')))];
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.join('').split(' ').filter(Boolean)).toEqual(words);
  });

  const page = (head: string, body: Buffer | string) => Buffer.concat([Buffer.from(`<!doctype html><html><head>${head}<title>T</title></head><body><p>`, 'latin1'), Buffer.from(body), Buffer.from('</p></body></html>')]);

  it.each([
    ['a <meta charset>', page('<meta charset="euc-kr">', KOREAN), 'text/html', '카약 안전'],
    ['a <meta http-equiv>', page('<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">', Buffer.from('\x93Paddle\x94 \x80 5', 'latin1')), 'text/html', '“Paddle” € 5'],
    ["the mime type's charset over a <meta>", page('<meta charset="utf-8">', JAPANESE), 'text/html; charset=Shift_JIS', 'カヤック安全'],
    ['a byte order mark over everything', Buffer.from(`\ufeff<html><head><meta charset="euc-kr"></head><body><p>café 카약</p></body></html>`, 'utf16le'), 'text/html; charset=latin1', 'café 카약'],
    ['undeclared UTF-8, as UTF-8', page('', 'café 카약'), 'text/html', 'café 카약'],
    ['undeclared bytes that are not UTF-8, as windows-1252', page('', Buffer.from('na\xefve', 'latin1')), 'application/xhtml+xml', 'naïve'],
  ])('reads HTML in the encoding of %s', async (_name, content, type, text) => {
    expect(await textOf(content, type)).toBe(text);
  });

  it('rejects HTML whose charset the standard forbids decoding, and HTML that is binary', async () => {
    const error = await rejection(() => parse(page('<meta charset="iso-2022-kr">', 'x'), 'text/html'));
    expect([error.code, error.message]).toEqual([
      'CORRUPT_DOCUMENT',
      'content declares a charset that cannot be read safely (ISO-2022-KR, HZ-GB-2312 or another that the WHATWG Encoding Standard maps to "replacement")',
    ]);
    const nul = await rejection(() => parse(page('', 'a\x00b'), 'text/html'));
    expect([nul.code, nul.message]).toEqual(['CORRUPT_DOCUMENT', 'content contains a NUL character at byte 60, so it is binary, not HTML']);
  });
});

describe('parseDocument: markdown', () => {
  it('tracks the heading path through nested, skipped and closing levels', async () => {
    const md = ['Intro.', '# Install', 'Steps.', '## Linux ##', 'apt.', '#### Debian', 'deb.', '### macOS', 'brew.', '# Usage', 'use.'].join('\n');
    expect(await sectionsOf(md, 'text/markdown')).toEqual([
      { heading: [], text: 'Intro.' },
      { heading: ['Install'], text: 'Steps.' },
      { heading: ['Install', 'Linux'], text: 'apt.' },
      { heading: ['Install', 'Linux', 'Debian'], text: 'deb.' },
      { heading: ['Install', 'Linux', 'macOS'], text: 'brew.' },
      { heading: ['Usage'], text: 'use.' },
    ]);
  });

  it('keeps heading lines out of the text: they are the sections\' paths', async () => {
    const parsed = await parse('# Title\n\nBody *text*.\n\n## Part\n\nMore.', 'text/x-markdown');
    expect(parsed.text).toBe('Body text.\n\nMore.');
    expect(parsed.sections).toEqual([
      { heading: ['Title'], text: 'Body text.' },
      { heading: ['Title', 'Part'], text: 'More.' },
    ]);
  });

  it.each([
    ['emphasis', '**bold** __strong__ *em* _em_ ~~gone~~ ***both***', 'bold strong em em gone both'],
    ['words with underscores and lone stars', 'snake_case_name and 2 * 3 * 4 and *.ts', 'snake_case_name and 2 * 3 * 4 and *.ts'],
    ['links and images', 'See [the docs](https://x.io/a_(b) "t") or [ref][1], ![a cat](c.png) and [![logo](l.png)](/)', 'See the docs or ref, a cat and logo'],
    ['autolinks', 'Visit <https://example.com/a_b_c>.', 'Visit https://example.com/a_b_c.'],
    ['inline code', 'Run `npm *i*` or ``a`b``', 'Run npm *i* or a`b'],
    ['escapes and entities', '\\*not em\\* &amp; &lt;tag&gt; &#233;&#x41;', '*not em* & <tag> éA'],
    ['html tags and comments', 'a <b>bold</b> <!-- note --> <br/>b', 'a bold b'],
    ['list markers and task boxes', '- one\n* two\n+ three\n1. four\n2) five\n- [x] six', 'one\ntwo\nthree\nfour\nfive\nsix'],
    ['nested blockquotes', '> quoted\n> > deeper\n> # not a section', 'quoted\ndeeper\nnot a section'],
    ['tables as cells separated by spaces', '| Name | Value |\n|:-----|------:|\n| a \\| b | `1` |\n| c | 2 |\n\nafter', 'Name Value\na | b 1\nc 2\n\nafter'],
    ['rules, link definitions and footnotes', 'one[^1]\n\n---\n\n[1]: https://x.io\n[^1]: A note.', 'one\n\nA note.'],
    ['front matter', '---\ntitle: Hidden\n---\nVisible', 'Visible'],
  ])('handles %s', async (_name, md, text) => {
    expect(await textOf(md, 'text/markdown')).toBe(text);
  });

  it('keeps fenced code as its content, where "#" starts no heading', async () => {
    const md = '# Setup\n\n```bash\n# install it\nnpm i **x**\n```\n\n~~~~\n```\nstill code\n~~~~\nafter';
    expect(await sectionsOf(md, 'text/markdown')).toEqual([{ heading: ['Setup'], text: '# install it\nnpm i **x**\n\n```\nstill code\n\nafter' }]);
  });

  it('treats a one-line triple-backtick span as inline code, not a fence', async () => {
    expect((await sectionsOf('use ```x``` here\n# Next\nok', 'text/markdown')).map((s) => s.heading)).toEqual([[], ['Next']]);
  });

  it('keeps a document of headings alone as one section', async () => {
    expect(await parse('# Only\n## Headings', 'text/markdown')).toEqual({ text: 'Only\n\nHeadings', sections: [{ heading: [], text: 'Only\n\nHeadings' }] });
  });

  it('uses markdown inside headings as plain text, keeping a "#" that closes no heading', async () => {
    expect((await sectionsOf('# Install `npm` [now](x) ##\ntext', 'text/markdown'))[0]?.heading).toEqual(['Install npm now']);
    expect(await sectionsOf('# C#\ntext\n#hashtag', 'text/markdown')).toEqual([{ heading: ['C#'], text: 'text\n#hashtag' }]);
  });

  it('stays fast on long lines of unmatched markers', async () => {
    // Unbounded lazy patterns took over 20 s on each of these; the test timeout is the bound.
    for (const marker of ['*x ', ' _x', '~~x ', '[a ', '<!-- ']) {
      expect((await textOf(marker.repeat(50_000), 'text/markdown')).length).toBeGreaterThan(0);
    }
  });
});

describe('parseDocument: html', () => {
  const page = `<!doctype html><html><head><title>Page title</title><style>p { color: red }</style></head>
    <body><nav><a href="/">Home</a></nav><p>Before   any <b>heading</b>.</p>
    <h1>Guide &amp; <em>notes</em></h1><p>Read <a href="https://x.io">the docs</a>, see <img src="c.png" alt="a cat">.</p>
    <script>alert("no")</script><h3>Deep<br>title</h3><ul><li>one</li><li>two</li></ul>
    <h2>Table</h2><table><tr><th>Name</th><th>Value</th></tr><tr><td>a</td><td>1</td></tr></table>
    <blockquote>quoted</blockquote><hr><pre>code   kept</pre></body></html>`;

  it.each(['text/html', 'application/xhtml+xml', 'text/html; charset=utf-8'])('turns %s into sections by heading', async (type) => {
    expect(await parse(page, type)).toEqual({
      text: 'Before any heading.\n\nRead the docs, see a cat.\n\none\ntwo\n\nName Value\na 1\n\nquoted\n\ncode kept',
      sections: [
        { heading: [], text: 'Before any heading.' },
        { heading: ['Guide & notes'], text: 'Read the docs, see a cat.' },
        { heading: ['Guide & notes', 'Deep title'], text: 'one\ntwo' },
        { heading: ['Guide & notes', 'Table'], text: 'Name Value\na 1\n\nquoted\n\ncode kept' },
      ],
    });
  });

  it('rejects nesting deeper than 1000 elements instead of losing text or the stack', async () => {
    expect(await textOf(`${'<b>'.repeat(999)}x`, 'text/html')).toBe('x');
    const error = await rejection(() => parse(`${'<b>'.repeat(20_000)}x`, 'text/html'));
    expect([error.code, error.message]).toEqual(['CORRUPT_DOCUMENT', 'content nests elements more than 1000 deep']);
  });

  it('leaves out the title of a fragment without a body', async () => {
    expect(await textOf('<title>T</title><p>only this</p>', 'text/html')).toBe('only this');
  });
});

describe('parseDocument: rejections', () => {
  it('names the unsupported type and the supported ones', async () => {
    const error = await rejection(() => parse('\xD0\xCF', 'application/msword'));
    expect(error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    expect(error.retriable).toBe(false);
    expect(error.message).toBe(
      'unsupported mime type "application/msword"; supported: text/plain, text/markdown, text/x-markdown, text/html, application/xhtml+xml, application/pdf, application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    );
    expect((await rejection(() => parse('x', ''))).code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it.each([
    ['PDF bytes as text/plain', Buffer.from('%PDF-1.7\n%\xe2\xe3\n1 0 obj', 'latin1'), 'text/plain', 'content looks like a PDF, not text/plain'],
    ['a zip as markdown', Buffer.from('PK\x03\x04\x14\x00', 'latin1'), 'text/markdown', 'content looks like a ZIP archive (DOCX, XLSX, ODT, ...), not text/markdown'],
    ['a PNG as html', Buffer.from('89504e470d0a1a0a0000', 'hex'), 'text/html', 'content looks like a PNG image, not text/html'],
    ['NUL bytes', Buffer.from('abc\x00def'), 'text/plain', 'content contains a NUL character at byte 3, so it is binary, not text/plain'],
    ['a NUL character in UTF-16', Buffer.from('\ufeffab\x00c', 'utf16le'), 'text/markdown', 'content contains a NUL character at byte 6, so it is binary, not text/markdown'],
    ['Latin-1 labelled as UTF-8', Buffer.from('caf\xe9', 'latin1'), 'text/plain; charset=utf-8', 'content is not text in utf-8, which its charset says (1 of its first 4 characters cannot be decoded), not text/plain'],
    ['binary after a UTF-16 byte order mark', Buffer.from([0xfe, 0xff, 0xd8, 0x00, 0xd8, 0x01, 0x00, 0x41]), 'text/plain', 'content is not text in utf-16be, which its byte order mark says (2 of its first 3 characters cannot be decoded), not text/plain'],
    ['control characters', Buffer.from('\x01\x02\x03\x04abcdefgh'), 'text/plain', 'content looks binary (4 control characters in its first 12), not text/plain'],
  ])('rejects %s as corrupt', async (_name, content, type, message) => {
    const error = await rejection(() => parse(content, type));
    expect([error.code, error.message]).toEqual(['CORRUPT_DOCUMENT', message]);
  });

  it.each([
    ['empty bytes', '', 'text/plain'],
    ['whitespace', ' \n\t\r\n ', 'text/plain'],
    ['markup without text', '<html><head><title>T</title></head><body><script>x()</script><p> </p></body></html>', 'text/html'],
    ['markdown without text', '---\na: b\n---\n[x]: https://x.io\n\n***\n', 'text/markdown'],
  ])('rejects %s as empty', async (_name, content, type) => {
    const error = await rejection(() => parse(content, type));
    expect([error.code, error.message]).toEqual(['EMPTY_DOCUMENT', `document has no text after parsing it as ${type.split(';')[0]}`]);
  });

  it('rejects content over maxBytes before reading it, and accepts exactly maxBytes', async () => {
    const error = await rejection(() => parse('x'.repeat(11), 'text/plain', 10));
    expect([error.code, error.message]).toEqual(['DOCUMENT_TOO_LARGE', 'document is 11 bytes, over the limit of 10 bytes']);
    expect((await rejection(() => parse(Buffer.from('%PDF-'.padEnd(20, 'x')), 'text/plain', 10))).code).toBe('DOCUMENT_TOO_LARGE');
    expect(await textOf('x'.repeat(10), 'text/plain', 10)).toBe('x'.repeat(10));
  });

  it('rejects a maxBytes that is not a positive whole number', async () => {
    expect((await rejection(() => parse('x', 'text/plain', 0))).message).toBe('maxBytes must be a positive whole number, got 0');
    expect((await rejection(() => parse('x', 'text/plain', 1.5))).code).toBe('INVALID_OPTIONS');
  });
});

describe('normaliseWhitespace', () => {
  it('collapses spaces, trims lines and keeps one blank line between paragraphs', async () => {
    expect(normaliseWhitespace(' a \u00a0 b \r\n \r\n\n\n c\td ')).toBe('a b\n\nc d');
  });
});
