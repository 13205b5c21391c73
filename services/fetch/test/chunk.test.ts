import type { Block } from '../src/blocks';
import { DEFAULT_CHUNK_OPTIONS, batchChunks, chunkDocument, validateChunkOptions, type ChunkOptions, type TextChunk } from '../src/chunk';
import { countTokens, unitsOf } from '../src/tokens';
import { errorOf } from './fixtures/errors';

interface Section {
  heading: string[];
  text: string;
}

/** Sections as the parsers give them: one block per paragraph, sharing the section's heading. */
function doc(...sections: [string[], string][]): { sections: Section[]; blocks: Block[] } {
  const blocks = sections.flatMap(([heading, text]) =>
    text
      .split(/\n\s*\n/)
      .map((paragraph) => paragraph.trim())
      .filter((paragraph) => paragraph !== '')
      .map((paragraph): Block => ({ heading, text: paragraph, sep: '\n\n' })),
  );
  return { sections: sections.map(([heading, text]) => ({ heading, text })), blocks };
}

async function all<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

const chunksOf = async (blocks: Iterable<Block>, options: Partial<ChunkOptions>): Promise<TextChunk[]> =>
  all(chunkDocument(blocks, { ...DEFAULT_CHUNK_OPTIONS, ...options }));
const textsOf = async (blocks: Iterable<Block>, options: Partial<ChunkOptions>): Promise<string[]> =>
  (await chunksOf(blocks, options)).map((c) => c.text);

const VOCABULARY = 'a an the of to pipeline tenant vector embedding document kafka partition offset retry chunk overlap boundary sentence paragraph deterministic streaming'.split(' ');
const LONGEST_WORD = Math.max(...VOCABULARY.map((w) => w.length));

/** Normalised prose of about `chars` characters, the same for the same seed. */
function prose(chars: number, seed: number): string {
  let state = seed;
  const next = (n: number) => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % n;
  };
  const paragraphs: string[] = [];
  let length = 0;
  while (length < chars) {
    const sentences: string[] = [];
    for (let s = 1 + next(8); s > 0; s--) {
      const words = Array.from({ length: 3 + next(25) }, () => VOCABULARY[next(VOCABULARY.length)]!);
      sentences.push(`${words.join(' ')}.`);
    }
    // Some paragraphs are line-broken lists, so every split level is exercised.
    const paragraph = sentences.join(next(4) === 0 ? '\n' : ' ');
    paragraphs.push(paragraph);
    length += paragraph.length + 2;
  }
  return paragraphs.join('\n\n');
}

/**
 * Checks every promise of the recursive strategy against the source sections: in order, within
 * the size, covering each section from its first to its last character, and overlapping the
 * previous chunk of the section by at most `overlap` and at least `minShared` characters (when
 * `minShared` > 0; ASCII text, so a character is a quarter token). Returns the chunk count.
 */
function checkChunks(parsed: { sections: Section[] }, chunks: TextChunk[], { size, overlap }: ChunkOptions, minShared: number): number {
  const sections = parsed.sections.filter((s) => s.text.trim() !== '');
  let count = 0;
  let section = -1;
  let text = '';
  let prevStart = 0;
  let prevEnd = 0;
  for (const chunk of chunks) {
    expect(chunk.index).toBe(count++);
    expect(chunk.text.length).toBeGreaterThan(0);
    expect(countTokens(chunk.text)).toBeLessThanOrEqual(size);
    expect(chunk.text.trim()).toBe(chunk.text);
    if (prevEnd === text.length) {
      // The current section is fully covered, so this chunk must begin the next one.
      text = sections[++section]!.text.trim();
      expect(chunk.heading).toEqual(sections[section]!.heading);
      expect(text.startsWith(chunk.text)).toBe(true);
      prevStart = 0;
      prevEnd = chunk.text.length;
      continue;
    }
    const start = text.indexOf(chunk.text, prevStart + 1);
    expect(start).toBeGreaterThan(prevStart);
    const shared = prevEnd - start;
    // Overlapping, or adjacent across one separator (' ', '\n' or '\n\n') and nothing skipped.
    expect(shared).toBeLessThanOrEqual(overlap * 4);
    if (shared < 0) expect(text.slice(prevEnd, start).trim()).toBe('');
    expect(shared).toBeGreaterThanOrEqual(minShared > 0 ? minShared : -2);
    prevStart = start;
    prevEnd = start + chunk.text.length;
  }
  expect(section).toBe(sections.length - 1);
  expect(prevEnd).toBe(text.length);
  return count;
}

describe('the token approximation', () => {
  it('counts a quarter token per Latin character and a token per CJK character, rounded up', () => {
    expect(countTokens('')).toBe(0);
    expect(countTokens('abcd')).toBe(1);
    expect(countTokens('abcde')).toBe(2);
    expect(countTokens('日本語')).toBe(3);
    expect(countTokens('Привет, мир')).toBe(3);
    expect(unitsOf('ab日')).toBe(6);
    expect(countTokens('😀')).toBe(2); // a surrogate pair: two code units of a token each
  });
});

describe('validateChunkOptions', () => {
  it('fills in the defaults', () => {
    expect(DEFAULT_CHUNK_OPTIONS).toEqual({ strategy: 'recursive', size: 256, overlap: 32 });
    expect(validateChunkOptions({})).toEqual({ strategy: 'recursive', size: 256, overlap: 32 });
    expect(validateChunkOptions({ strategy: 'fixed', size: 16, overlap: 8 })).toEqual({ strategy: 'fixed', size: 16, overlap: 8 });
  });

  it.each([
    [{ size: 15 }, 'size', 'chunk option size must be a whole number of tokens from 16 to 20000, got 15'],
    [{ size: 20_001 }, 'size', 'chunk option size must be a whole number of tokens from 16 to 20000, got 20001'],
    [{ size: 100.5 }, 'size', 'chunk option size must be a whole number of tokens from 16 to 20000, got 100.5'],
    [{ overlap: -1 }, 'overlap', 'chunk option overlap must be a whole number of at least 0, got -1'],
    [{ size: 100, overlap: 100 }, 'overlap', 'chunk option overlap must be smaller than size (100), got 100'],
    [{ size: 20 }, 'overlap', 'chunk option overlap must be smaller than size (20), got 32'],
    [{ strategy: 'fixed' as const, size: 100, overlap: 51 }, 'overlap', 'chunk option overlap must be at most half the size (100) with the fixed strategy, got 51'],
    [{ strategy: 'semantic' as never }, 'strategy', 'chunk option strategy must be one of fixed, recursive, got semantic'],
  ])('rejects %j naming %s', (options, field, message) => {
    const error = errorOf(() => validateChunkOptions(options));
    expect([error.code, error.message, error.details]).toEqual(['INVALID_OPTIONS', message, { field }]);
  });

  it('is applied by chunkDocument', async () => {
    await expect(chunkDocument(doc([[], 'x']).blocks, { strategy: 'recursive', size: 10, overlap: 0 }).next()).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });
});

describe('chunkDocument: recursive', () => {
  it('gives a short document exactly one chunk', async () => {
    expect(await chunksOf(doc([['T'], 'Just one line.']).blocks, {})).toEqual([{ index: 0, text: 'Just one line.', heading: ['T'] }]);
    // Longer than a piece may be, but within size: split and merged back, byte for byte.
    const text = prose(860, 6);
    expect(text.length).toBe(985);
    expect(await textsOf(doc([[], text]).blocks, {})).toEqual([text]);
  });

  it('splits at sentences and leads each chunk with words from the previous one', async () => {
    const text = 'The first sentence is here. A second one follows it and goes on.\n\nNew paragraph with several words in it. And another sentence to end it all.';
    expect(await chunksOf(doc([['A'], text]).blocks, { size: 18, overlap: 4 })).toEqual([
      { index: 0, text: 'The first sentence is here. A second one follows it and goes on.', heading: ['A'] },
      { index: 1, text: 'it and goes on.\n\nNew paragraph with several words in it.', heading: ['A'] },
      { index: 2, text: 'words in it. And another sentence to end it all.', heading: ['A'] },
    ]);
    expect(await textsOf(doc([['A'], text]).blocks, { size: 18, overlap: 0 })).toEqual([
      'The first sentence is here. A second one follows it and goes on.',
      'New paragraph with several words in it.',
      'And another sentence to end it all.',
    ]);
  });

  it('never crosses a section boundary, and numbers chunks across sections', async () => {
    const parsed = doc([[], 'Intro.'], [['Install'], 'Step one.'], [['Install', 'Linux'], '   '], [['Usage'], 'Use it.']);
    expect(await chunksOf(parsed.blocks, {})).toEqual([
      { index: 0, text: 'Intro.', heading: [] },
      { index: 1, text: 'Step one.', heading: ['Install'] },
      { index: 2, text: 'Use it.', heading: ['Usage'] },
    ]);
  });

  it('gives each chunk the pages it starts and ends on', async () => {
    const blocks: Block[] = [
      { heading: ['A'], text: 'one two three four five six seven eight nine ten.', sep: '\n\n', page: 1 },
      { heading: ['A'], text: 'eleven twelve thirteen fourteen fifteen sixteen.', sep: '\n\n', page: 2 },
      { heading: ['A'], text: 'seventeen eighteen nineteen twenty twenty-one.', sep: '\n\n', page: 3 },
    ];
    const chunks = await chunksOf(blocks, { size: 28, overlap: 4 });
    expect(chunks.map(({ text, page, pageEnd }) => [text, page, pageEnd])).toEqual([
      ['one two three four five six seven eight nine ten.\n\neleven twelve thirteen fourteen fifteen sixteen.', 1, 2],
      ['fifteen sixteen.\n\nseventeen eighteen nineteen twenty twenty-one.', 2, 3],
    ]);
  });

  it('counts CJK text a token a character', async () => {
    const text = '日本語の文章です。'.repeat(10);
    const chunks = await textsOf(doc([[], text]).blocks, { size: 16, overlap: 0 });
    expect(chunks.join('')).toBe(text);
    for (const chunk of chunks) expect(countTokens(chunk)).toBeLessThanOrEqual(16);
    expect(chunks).toEqual(Array(10).fill('日本語の文章です。')); // sentences of 9 tokens: two do not fit in 16
  });

  it('cuts a single over-long word by characters, without overlap or splitting a surrogate pair', async () => {
    const word = 'x'.repeat(250);
    const chunks = await textsOf(doc([[], word]).blocks, { size: 25, overlap: 5 });
    expect(chunks.map((c) => c.length)).toEqual([78, 78, 94]);
    expect(chunks.join('')).toBe(word);
    const emoji = '😀'.repeat(60);
    const pieces = await textsOf(doc([[], emoji]).blocks, { size: 16, overlap: 1 });
    expect(pieces.join('')).toBe(emoji);
    for (const piece of pieces) expect(Buffer.from(piece).toString()).toBe(piece);
  });

  it.each<[Partial<ChunkOptions>, number]>([
    [{}, DEFAULT_CHUNK_OPTIONS.overlap * 4 - LONGEST_WORD - 1],
    [{ size: 30, overlap: 8 }, 32 - LONGEST_WORD - 1],
    [{ size: 16, overlap: 2 }, 0],
    [{ size: 50, overlap: 0 }, 0],
    // An overlap above half the size shrinks when the next piece needs the room.
    [{ size: 25, overlap: 18 }, 1],
  ])('keeps chunks within %j, covering every section in order, overlapping by about the overlap', async (options, minShared) => {
    const parsed = doc([[], prose(3000, 1)], [['A'], prose(40, 2)], [['A', 'B'], prose(9000, 3)], [['C'], 'tiny']);
    const full = { ...DEFAULT_CHUNK_OPTIONS, ...options };
    const count = checkChunks(parsed, await chunksOf(parsed.blocks, full), full, minShared);
    expect(count).toBeGreaterThan(12000 / (full.size * 4));
  });

  it('is deterministic, byte for byte', async () => {
    const parsed = doc([['X'], prose(20_000, 42)]);
    const first = JSON.stringify(await chunksOf(parsed.blocks, {}));
    const second = JSON.stringify(await chunksOf(structuredClone(parsed.blocks), { ...DEFAULT_CHUNK_OPTIONS }));
    expect(second).toBe(first);
  });

  it('chunks a 2 MB document in a single pass with contiguous indices', async () => {
    const parsed = doc([['Big'], prose(2 * 1024 * 1024, 9)]);
    const count = checkChunks(parsed, await chunksOf(parsed.blocks, {}), DEFAULT_CHUNK_OPTIONS, DEFAULT_CHUNK_OPTIONS.overlap * 4 - LONGEST_WORD - 1);
    expect(count).toBeGreaterThan((2 * 1024 * 1024) / (DEFAULT_CHUNK_OPTIONS.size * 4));
  });

  it.each(['recursive', 'fixed'] as const)('streams (%s): the first chunk is made without reading later blocks', async (strategy) => {
    let read = 0;
    function* blocks(): Generator<Block> {
      for (;;) {
        read++;
        yield { heading: [], text: prose(2_000, read), sep: '\n\n' };
      }
    }
    const first = await chunkDocument(blocks(), { strategy, size: 256, overlap: 32 }).next();
    expect(first.value).toMatchObject({ index: 0, heading: [] });
    expect(read).toBeLessThanOrEqual(2);
  });
});

describe('chunkDocument: fixed', () => {
  const words = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `w${String(i + from).padStart(2, '0')}`);

  it('slides windows of whole words by size minus overlap, across headings and pages', async () => {
    // Every word is "wNN" and a space: one token. 16-token windows, 4 of them repeated.
    const blocks: Block[] = [
      { heading: ['A'], text: words(20).join(' '), sep: '\n\n', page: 1 },
      { heading: ['A', 'B'], text: words(20, 20).join(' '), sep: '\n\n', page: 2 },
    ];
    const chunks = await chunksOf(blocks, { strategy: 'fixed', size: 16, overlap: 4 });
    expect(chunks).toEqual([
      { index: 0, text: words(16).join(' '), heading: ['A'], page: 1, pageEnd: 1 },
      // 4 tokens of overlap (w12-w15); the paragraph break between the blocks is kept and counts half a token.
      { index: 1, text: `${words(8, 12).join(' ')}\n\n${words(8, 20).join(' ')}`, heading: ['A'], page: 1, pageEnd: 2 },
      // The heading is the first word's.
      { index: 2, text: words(16, 24).join(' '), heading: ['A', 'B'], page: 2, pageEnd: 2 },
    ]);
    for (const chunk of chunks) expect(countTokens(chunk.text)).toBeLessThanOrEqual(16);
  });

  /** Checks that windows stay within the size, repeat at most the overlap, and cover the text in order. */
  function checkWindows(blocks: Block[], chunks: TextChunk[], size: number, overlap: number): void {
    const squeeze = (text: string) => text.replace(/\s+/g, '');
    let covered = '';
    let previous = '';
    chunks.forEach((chunk, i) => {
      expect(chunk.index).toBe(i);
      expect(countTokens(chunk.text)).toBeLessThanOrEqual(size);
      const text = squeeze(chunk.text);
      // The longest end of the previous window that this one starts with is the overlap.
      let shared = Math.min(previous.length, text.length - 1);
      while (shared > 0 && !text.startsWith(previous.slice(previous.length - shared))) shared--;
      expect(countTokens(previous.slice(previous.length - shared))).toBeLessThanOrEqual(overlap);
      covered += text.slice(shared);
      previous = text;
    });
    expect(covered).toBe(squeeze(blocks.map((b) => b.text).join('')));
  }

  it('covers the whole text in order, each window repeating at most the overlap of the one before', async () => {
    // CJK without spaces, of distinct characters, so that an overlap can be found by matching.
    const cjk = Array.from({ length: 2000 }, (_, i) => String.fromCharCode(0x4e00 + ((i * 7919) % 20_000))).join('');
    const parsed = doc([[], prose(20_000, 7)], [['Z'], cjk]);
    const chunks = await chunksOf(parsed.blocks, { strategy: 'fixed', size: 64, overlap: 16 });
    checkWindows(parsed.blocks, chunks, 64, 16);
    expect(chunks.at(-1)!.heading).toEqual(['Z']);
  });

  it('chunks a 2 MB document in a single pass', async () => {
    // Thousands of windows, as from a large file (the benchmark runs 50 MB through the built code).
    const parsed = doc([['Big'], prose(2 * 1024 * 1024, 9)]);
    const chunks = await chunksOf(parsed.blocks, { strategy: 'fixed', size: 256, overlap: 32 });
    expect(chunks.length).toBeGreaterThan((2 * 1024 * 1024) / 1024);
    checkWindows(parsed.blocks, chunks, 256, 32);
  });
});

describe('batchChunks', () => {
  const batches = async (sizes: number[], maxItems: number, maxChars: number) => all(batchChunks(sizes, maxItems, maxChars, (n) => n));

  it('bounds batches by items and by characters, a large item alone', async () => {
    expect(await batches([3, 3, 3, 10, 1, 1], 2, 6)).toEqual([[3, 3], [3], [10], [1, 1]]);
    expect(await batches([1, 1, 1, 1, 1], 2, 100)).toEqual([[1, 1], [1, 1], [1]]);
    expect(await batches([5, 5, 5], 10, 10)).toEqual([[5, 5], [5]]);
    expect(await batches([], 2, 6)).toEqual([]);
  });

  it('keeps order and bounds for real chunks', async () => {
    const parsed = doc([[], prose(30_000, 11)]);
    const everything = await chunksOf(parsed.blocks, {});
    const grouped = await all(batchChunks(chunkDocument(parsed.blocks, DEFAULT_CHUNK_OPTIONS), 8, 5000, (c) => c.text.length));
    expect(grouped.flat()).toEqual(everything);
    for (const batch of grouped) {
      expect(batch.length).toBeLessThanOrEqual(8);
      expect(batch.reduce((sum, c) => sum + c.text.length, 0)).toBeLessThanOrEqual(5000);
    }
  });

  it('pulls only as many items as the batch being built needs', async () => {
    let pulled = 0;
    function* source() {
      for (let i = 0; i < 100; i++) {
        pulled++;
        yield i;
      }
    }
    const first = await batchChunks(source(), 2, 1000, () => 1).next();
    expect(first.value).toEqual([0, 1]);
    expect(pulled).toBe(3); // the third item is what shows the batch is full
  });

  it('rejects bounds below 1', async () => {
    await expect(batchChunks([1], 0, 10, (n) => n).next()).rejects.toThrow('batch option maxItems must be a whole number of at least 1, got 0');
    await expect(batchChunks([1], 1, 0.5, (n) => n).next()).rejects.toMatchObject({ details: { field: 'maxChars' } });
  });
});

