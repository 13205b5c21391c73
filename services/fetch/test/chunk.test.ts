import { PermanentError } from '@docintel/core';
import { DEFAULT_CHUNK_OPTIONS, batchChunks, chunkDocument, validateChunkOptions, type ChunkOptions, type TextChunk } from '../src/chunk';
import { type ParsedDocument } from '../src/parse';

const doc = (...sections: [string[], string][]): ParsedDocument => ({
  text: sections.map(([, text]) => text).join('\n\n'),
  sections: sections.map(([heading, text]) => ({ heading, text })),
});

function errorOf(fn: () => unknown): PermanentError {
  try {
    fn();
  } catch (error) {
    if (error instanceof PermanentError) return error;
    throw error;
  }
  throw new Error('expected a PermanentError, but nothing was thrown');
}

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
 * Consumes `chunks` once, checking every promise of chunkDocument against the source sections:
 * in order, within bounds, covering each section from its first to its last character, and
 * overlapping the previous chunk of the section by at most `overlap` and at least `minShared`
 * characters (when `minShared` > 0). Returns how many chunks there were.
 */
function checkChunks(parsed: ParsedDocument, chunks: Iterable<TextChunk>, { size, overlap }: ChunkOptions, minShared: number): number {
  const sections = parsed.sections.filter((s) => s.text.trim() !== '');
  let count = 0;
  let section = -1;
  let text = '';
  let prevStart = 0;
  let prevEnd = 0;
  for (const chunk of chunks) {
    expect(chunk.index).toBe(count++);
    expect(chunk.text.length).toBeGreaterThan(0);
    expect(chunk.text.length).toBeLessThanOrEqual(size);
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
    expect(shared).toBeLessThanOrEqual(overlap);
    if (shared < 0) expect(text.slice(prevEnd, start).trim()).toBe('');
    expect(shared).toBeGreaterThanOrEqual(minShared > 0 ? minShared : -2);
    prevStart = start;
    prevEnd = start + chunk.text.length;
  }
  expect(section).toBe(sections.length - 1);
  expect(prevEnd).toBe(text.length);
  return count;
}

describe('validateChunkOptions', () => {
  it('fills in the defaults', () => {
    expect(DEFAULT_CHUNK_OPTIONS).toEqual({ size: 1000, overlap: 150 });
    expect(validateChunkOptions({})).toEqual({ size: 1000, overlap: 150 });
    expect(validateChunkOptions({ size: 50, overlap: 0 })).toEqual({ size: 50, overlap: 0 });
  });

  it.each([
    [{ size: 49 }, 'size', 'chunk option size must be a whole number of at least 50, got 49'],
    [{ size: 100.5 }, 'size', 'chunk option size must be a whole number of at least 50, got 100.5'],
    [{ overlap: -1 }, 'overlap', 'chunk option overlap must be a whole number of at least 0, got -1'],
    [{ size: 100, overlap: 100 }, 'overlap', 'chunk option overlap must be smaller than size (100), got 100'],
    [{ size: 100 }, 'overlap', 'chunk option overlap must be smaller than size (100), got 150'],
  ])('rejects %j naming %s', (options, field, message) => {
    const error = errorOf(() => validateChunkOptions(options));
    expect([error.code, error.message, error.details]).toEqual(['INVALID_OPTIONS', message, { field }]);
  });

  it('is applied by chunkDocument', () => {
    expect(errorOf(() => chunkDocument(doc([[], 'x']), { size: 10, overlap: 0 }).next()).code).toBe('INVALID_OPTIONS');
  });
});

describe('chunkDocument', () => {
  it('gives a short document exactly one chunk', () => {
    expect([...chunkDocument(doc([['T'], 'Just one line.']), DEFAULT_CHUNK_OPTIONS)]).toEqual([{ index: 0, text: 'Just one line.', heading: ['T'] }]);
    // Longer than a piece may be, but within size: split and merged back, byte for byte.
    const text = prose(860, 6);
    expect(text.length).toBe(985);
    expect([...chunkDocument(doc([[], text]), DEFAULT_CHUNK_OPTIONS)].map((c) => c.text)).toEqual([text]);
  });

  it('splits at sentences and leads each chunk with words from the previous one', () => {
    const text = 'The first sentence is here. A second one follows it.\n\nNew paragraph with several words in it. And another sentence to end.';
    expect([...chunkDocument(doc([['A'], text]), { size: 60, overlap: 15 })]).toEqual([
      { index: 0, text: 'The first sentence is here. A second one follows it.', heading: ['A'] },
      { index: 1, text: 'one follows it.\n\nNew paragraph with several words in it.', heading: ['A'] },
      { index: 2, text: 'words in it. And another sentence to end.', heading: ['A'] },
    ]);
    expect([...chunkDocument(doc([['A'], text]), { size: 60, overlap: 0 })].map((c) => c.text)).toEqual([
      'The first sentence is here. A second one follows it.',
      'New paragraph with several words in it.',
      'And another sentence to end.',
    ]);
  });

  it('never crosses a section boundary, and numbers chunks across sections', () => {
    const parsed = doc([[], 'Intro.'], [['Install'], 'Step one.'], [['Install', 'Linux'], '   '], [['Usage'], 'Use it.']);
    expect([...chunkDocument(parsed, DEFAULT_CHUNK_OPTIONS)]).toEqual([
      { index: 0, text: 'Intro.', heading: [] },
      { index: 1, text: 'Step one.', heading: ['Install'] },
      { index: 2, text: 'Use it.', heading: ['Usage'] },
    ]);
  });

  it('cuts a single over-long word by characters, without overlap or splitting a surrogate pair', () => {
    const word = 'x'.repeat(250);
    const chunks = [...chunkDocument(doc([[], word]), { size: 100, overlap: 20 })].map((c) => c.text);
    expect(chunks.map((c) => c.length)).toEqual([78, 78, 94]);
    expect(chunks.join('')).toBe(word);
    const emoji = '😀'.repeat(60);
    const pieces = [...chunkDocument(doc([[], emoji]), { size: 50, overlap: 1 })].map((c) => c.text);
    expect(pieces.join('')).toBe(emoji);
    for (const piece of pieces) expect(Buffer.from(piece).toString()).toBe(piece);
  });

  it.each<[ChunkOptions, number]>([
    [DEFAULT_CHUNK_OPTIONS, DEFAULT_CHUNK_OPTIONS.overlap - LONGEST_WORD - 1],
    [{ size: 120, overlap: 30 }, 30 - LONGEST_WORD - 1],
    [{ size: 50, overlap: 10 }, 0],
    [{ size: 200, overlap: 0 }, 0],
    // An overlap above half the size shrinks when the next piece needs the room.
    [{ size: 100, overlap: 70 }, 1],
  ])('keeps chunks within %j, covering every section in order, overlapping by about the overlap', (options, minShared) => {
    const parsed = doc([[], prose(3000, 1)], [['A'], prose(40, 2)], [['A', 'B'], prose(9000, 3)], [['C'], 'tiny']);
    const count = checkChunks(parsed, chunkDocument(parsed, options), options, minShared);
    expect(count).toBeGreaterThan(12000 / options.size);
  });

  it('is deterministic, byte for byte', () => {
    const parsed = doc([['X'], prose(20_000, 42)]);
    const first = JSON.stringify([...chunkDocument(parsed, DEFAULT_CHUNK_OPTIONS)]);
    const second = JSON.stringify([...chunkDocument(structuredClone(parsed), { ...DEFAULT_CHUNK_OPTIONS })]);
    expect(second).toBe(first);
  });

  it('chunks a 2 MB document in a single pass with contiguous indices', () => {
    const parsed = doc([['Big'], prose(2 * 1024 * 1024, 9)]);
    const count = checkChunks(parsed, chunkDocument(parsed, DEFAULT_CHUNK_OPTIONS), DEFAULT_CHUNK_OPTIONS, DEFAULT_CHUNK_OPTIONS.overlap - LONGEST_WORD - 1);
    expect(count).toBeGreaterThan((2 * 1024 * 1024) / DEFAULT_CHUNK_OPTIONS.size);
  });

  it('streams: the first chunk is made without reading later sections', () => {
    const sections = [{ heading: [], text: prose(50_000, 5) }];
    Object.defineProperty(sections, 1, { get: () => { throw new Error('read ahead'); } });
    const first = chunkDocument({ text: '', sections }, DEFAULT_CHUNK_OPTIONS).next();
    expect(first.value).toMatchObject({ index: 0, heading: [] });
  });
});

describe('batchChunks', () => {
  const batches = (sizes: number[], maxItems: number, maxChars: number) => [...batchChunks(sizes, maxItems, maxChars, (n) => n)];

  it('bounds batches by items and by characters, a large item alone', () => {
    expect(batches([3, 3, 3, 10, 1, 1], 2, 6)).toEqual([[3, 3], [3], [10], [1, 1]]);
    expect(batches([1, 1, 1, 1, 1], 2, 100)).toEqual([[1, 1], [1, 1], [1]]);
    expect(batches([5, 5, 5], 10, 10)).toEqual([[5, 5], [5]]);
    expect(batches([], 2, 6)).toEqual([]);
  });

  it('keeps order and bounds for real chunks', () => {
    const parsed = doc([[], prose(30_000, 11)]);
    const all = [...chunkDocument(parsed, DEFAULT_CHUNK_OPTIONS)];
    const grouped = [...batchChunks(chunkDocument(parsed, DEFAULT_CHUNK_OPTIONS), 8, 5000, (c) => c.text.length)];
    expect(grouped.flat()).toEqual(all);
    for (const batch of grouped) {
      expect(batch.length).toBeLessThanOrEqual(8);
      expect(batch.reduce((sum, c) => sum + c.text.length, 0)).toBeLessThanOrEqual(5000);
    }
  });

  it('pulls only as many items as the batch being built needs', () => {
    let pulled = 0;
    function* source() {
      for (let i = 0; i < 100; i++) {
        pulled++;
        yield i;
      }
    }
    const first = batchChunks(source(), 2, 1000, () => 1).next();
    expect(first.value).toEqual([0, 1]);
    expect(pulled).toBe(3); // the third item is what shows the batch is full
  });

  it('rejects bounds below 1', () => {
    expect(errorOf(() => batchChunks([1], 0, 10, (n) => n).next()).message).toBe('batch option maxItems must be a whole number of at least 1, got 0');
    expect(errorOf(() => batchChunks([1], 1, 0.5, (n) => n).next()).details).toEqual({ field: 'maxChars' });
  });
});
