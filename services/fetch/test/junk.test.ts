import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PermanentError } from '@docintel/core';
import { cleanText } from '../src/blocks';
import { DEFAULT_CHUNK_OPTIONS, chunkDocument, type TextChunk } from '../src/chunk';
import { contentChars, isPageNumberRun, withoutJunk, type JunkCounts } from '../src/junk';
import { parseDocument } from '../src/parse';

const chunk = (text: string, heading: string[] = [], page?: number): TextChunk => ({ index: 0, text, heading, ...(page === undefined ? {} : { page, pageEnd: page }) });

async function filtered(list: TextChunk[], minContentChars = 16, size = 256): Promise<{ chunks: TextChunk[]; counts: JunkCounts }> {
  const counts: JunkCounts = { merged: 0, dropped: 0 };
  const chunks: TextChunk[] = [];
  for await (const item of withoutJunk(list.map((c, index) => ({ ...c, index })), { minContentChars, size }, counts)) chunks.push(item);
  return { chunks, counts };
}

const REAL = 'Always wear a buoyancy aid and tell someone ashore where you are going.';
const MORE = 'Check the forecast for wind and tide; turn back early rather than late.';

describe('cleanText', () => {
  it('drops controls, non-characters, lone surrogates and replacement runs, and keeps the rest', () => {
    expect(cleanText('a\u0000b\u0008c\u001fd\u007fe\u0085f\u009fg')).toBe('abcdefg');
    expect(cleanText('x\uFFFE\uFFFFy\uFDD0\uFDEFz\u{1FFFE}\u{10FFFF}!')).toBe('xyz!');
    expect(cleanText('lone \uD800high \uDC00low, pair \uD83D\uDEA3 kept')).toBe('lone high low, pair \uD83D\uDEA3 kept');
    expect(cleanText('a\uFFFD\uFFFD\uFFFDb \uFFFD \uFFFD c na\uFFFDve')).toBe('ab  c na\uFFFDve');
    expect(cleanText('\u001b[1;31mred\u001b[0m \u001bcreset')).toBe('red reset');
    expect(cleanText('tabs\tand\nlines stay, as do 카약, é and \u00a0')).toBe('tabs\tand\nlines stay, as do 카약, é and \u00a0');
  });
});

describe('page-number runs', () => {
  it.each(['Page 1 Page 2 Page 3', 'page 7', 'p. 4', 'Page 3 of 10', '3 / 10', '- 7 -', '12', '1 2 3 4 5', 'Seite 2', '(iv) 4', '[3]'])('%s is one', (text) => {
    expect(isPageNumberRun(text)).toBe(text !== '(iv) 4');
  });

  it.each(['Page one', 'Chapter 3', '2024 2026', 'Call 555 1234', 'Pages 1 to 3 cover safety', '3 4 6', ''])('%s is not', (text) => {
    expect(isPageNumberRun(text)).toBe(false);
  });

  it('counts letters and digits of every script, up to a bound', () => {
    expect(contentChars('A — 1, 카약!')).toBe(4);
    expect(contentChars('x'.repeat(1000), 16)).toBe(16);
  });
});

describe('withoutJunk', () => {
  it('passes real chunks through, renumbered without gaps', async () => {
    const { chunks, counts } = await filtered([chunk(REAL), chunk('Page 1 Page 2 Page 3'), chunk(MORE)]);
    expect(chunks.map((c) => [c.index, c.text])).toEqual([[0, REAL], [1, MORE]]);
    expect(counts).toEqual({ merged: 0, dropped: 1 });
  });

  it('drops chunks without letters or digits, and small ones that are mostly symbols', async () => {
    const { chunks, counts } = await filtered([chunk(REAL), chunk('—— · —— · ——'), chunk(`x ${'-'.repeat(100)}`), chunk(MORE)]);
    expect(chunks.map((c) => c.text)).toEqual([REAL, MORE]);
    expect(counts).toEqual({ merged: 0, dropped: 2 });
  });

  it('merges a small chunk into the one before it, under that one\'s heading, over both pages', async () => {
    const { chunks, counts } = await filtered([chunk(REAL, ['Safety'], 1), chunk('A', ['Safety', 'Appendix A'], 2), chunk(MORE, ['Weather'], 2)]);
    expect(chunks).toEqual([
      { index: 0, text: `${REAL}\n\nA`, heading: ['Safety'], page: 1, pageEnd: 2 },
      { index: 1, text: MORE, heading: ['Weather'], page: 2, pageEnd: 2 },
    ]);
    expect(counts).toEqual({ merged: 1, dropped: 0 });
  });

  it('merges a small first chunk into the one after it, under that one\'s heading', async () => {
    const { chunks, counts } = await filtered([chunk('ACME Ltd.', ['Cover']), chunk(REAL, ['Safety'])]);
    expect(chunks).toEqual([{ index: 0, text: `ACME Ltd.\n\n${REAL}`, heading: ['Safety'] }]);
    expect(counts).toEqual({ merged: 1, dropped: 0 });
  });

  it('merges small chunks that fit nowhere with each other: once they are real text together, they stand alone', async () => {
    // Size 16 tokens (64 characters, with 4 of slack): REAL (72 characters) is already full.
    const small = ['Call 555-1234', 'Ask for Sam', 'Open daily 9-5', 'Free parking'];
    const { chunks, counts } = await filtered([chunk(REAL), ...small.map((text) => chunk(text)), chunk(REAL)], 16, 16);
    // The first two fit nowhere: together they are real text, and the next ones join them.
    expect(chunks.map((c) => c.text)).toEqual([REAL, small.join('\n\n'), REAL]);
    expect(counts).toEqual({ merged: 3, dropped: 0 });
  });

  it('keeps a document whose whole text is small as its one chunk', async () => {
    expect((await filtered([chunk('Hi'), chunk('Bye')])).chunks.map((c) => c.text)).toEqual(['Hi\n\nBye']);
  });

  it('fails a document of junk alone as empty', async () => {
    await expect(filtered([chunk('Page 1'), chunk('***')])).rejects.toThrow(
      new PermanentError('EMPTY_DOCUMENT', 'document has no text to index: each of its 2 chunks is page numbers, punctuation or symbols only'),
    );
  });

  it('does nothing with a minimum of 0', async () => {
    const list = [chunk('A'), chunk('Page 1'), chunk('***')];
    expect((await filtered(list, 0)).chunks.map((c) => c.text)).toEqual(['A', 'Page 1', '***']);
  });

  it('junk.md: two chunks of real text, cleaned, one small chunk merged and two junk chunks dropped', async () => {
    const counts: JunkCounts = { merged: 0, dropped: 0 };
    const content = readFileSync(path.join(__dirname, 'fixtures', 'junk.md'));
    const chunks: TextChunk[] = [];
    for await (const item of withoutJunk(chunkDocument(parseDocument(content, 'text/markdown'), DEFAULT_CHUNK_OPTIONS), { minContentChars: 16, size: 256 }, counts)) chunks.push(item);
    expect(chunks.map((c) => [c.heading, c.text])).toEqual([
      [['Tide Tables'], 'Tide tables for the estuary are posted at the clubhouse every Monday; high water at the bar comes forty minutes after the town quay.\n\nA'],
      [['Tide Tables', 'Launch Times'], 'Launch times are posted beside the slipway; the first launch of the day is at seven in the morning.'],
    ]);
    expect(counts).toEqual({ merged: 1, dropped: 2 });
  });
});
