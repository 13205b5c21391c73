import { PermanentError } from '@docintel/core';
import { closeDefaultParsePool, normaliseWhitespace, parseDocument, type Block } from '../src/parse';

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

  it('drops stray control characters but keeps ANSI escapes out of the binary check', async () => {
    expect(await textOf('a\x07b \x1b[1mbold\x1b[0m', 'text/plain')).toBe('ab \x1b[1mbold\x1b[0m');
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
    ['UTF-16 text', Buffer.from('\ufeffhi', 'utf16le'), 'text/plain', 'content looks like UTF-16 text (only UTF-8 is accepted), not text/plain'],
    ['NUL bytes', Buffer.from('abc\x00def'), 'text/plain', 'content contains a NUL byte at offset 3, so it is binary, not text/plain'],
    ['invalid UTF-8', Buffer.from([0x48, 0xff, 0x49]), 'text/plain', 'content is not valid UTF-8, so it is not text/plain'],
    ['Latin-1 labelled as UTF-8', Buffer.from('caf\xe9', 'latin1'), 'text/plain; charset=utf-8', 'content is not valid UTF-8, so it is not text/plain'],
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
