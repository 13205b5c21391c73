import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PermanentError } from '@docintel/core';
import { eventually } from '@docintel/testing';
import type { Block } from '../src/blocks';
import { parseDocument, type ParseOptions } from '../src/parse';
import { ParsePool } from '../src/parse-pool';
import { DOCX_MIME, docxOf, docxOfHugeText, docxOfTinyParagraphs, htmlNested, pdfOfTextOperators, pdfWithFlateBomb, type HostileFile } from './fixtures/hostile';
import { writePdf } from './fixtures/pdf-writer';

// Small limits, so that every bomb trips quickly: what counts is that it trips, with its code,
// in about the limit's time, and that the pool goes on parsing good documents right after. One
// pool is tight on memory and one on time, each roomy in the other, so that which limit trips
// does not depend on how busy the machine is.
const MEMORY_MB = 256;
// Tight, yet with room for a good document on a busy machine (guide.pdf takes ~20 ms, and ~0.5 s
// in a process's first document).
const TIMEOUT_MS = 3000;
const fixture = (name: string): Buffer => readFileSync(path.join(__dirname, 'fixtures', name));

// Each test does a bounded amount of work by design; starting processes from source takes a second.
jest.setTimeout(60_000);

let dir: string;
/** Tight on memory. */
let pool: ParsePool;
/** Tight on time. */
let slow: ParsePool;
const measured: string[][] = [];

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'docintel-hostile-'));
  pool = new ParsePool({ workers: 2, memoryMb: MEMORY_MB, timeoutMs: 20_000 });
  slow = new ParsePool({ workers: 1, memoryMb: 2048, timeoutMs: TIMEOUT_MS });
  await Promise.all([warm(pool), warm(slow)]);
});

afterAll(async () => {
  await Promise.all([pool.close(), slow.close()]);
  rmSync(dir, { recursive: true, force: true });
  const header = ['input', 'on disk', 'expands to', 'result', 'seconds', 'test process peak RSS (growth)', 'parse process peak RSS'];
  const widths = header.map((h, i) => Math.max(h.length, ...measured.map((row) => row[i]!.length)));
  const table = [header, ...measured].map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ')).join('\n');
  console.log(`hostile inputs; parse processes limited to ${MEMORY_MB} MB (or ${TIMEOUT_MS} ms for the time limit):\n${table}`);
});

interface Outcome {
  error: PermanentError | undefined;
  chars: number;
  ms: number;
}

/** Parses a document whole, measuring this process's RSS and the parse processes' as it goes. */
async function parse(content: Buffer, mimeType: string, options: ParseOptions = {}): Promise<Outcome & { peakRss: number; peakChildRss: number; startRss: number }> {
  const startRss = process.memoryUsage.rss();
  let peakRss = startRss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 20);
  const used = options.pool ?? pool;
  used.takePeakRss();
  const started = performance.now();
  let error: PermanentError | undefined;
  let chars = 0;
  try {
    for await (const block of parseDocument(content, mimeType, { pool, ...options })) chars += block.text.length;
  } catch (caught) {
    if (!(caught instanceof PermanentError)) throw caught;
    error = caught;
  } finally {
    clearInterval(sampler);
  }
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  return { error, chars, ms: performance.now() - started, peakRss, peakChildRss: used.takePeakRss(), startRss };
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

/** Parses a hostile file and records what it cost for the table printed at the end. */
async function hostile(file: HostileFile, options: ParseOptions = {}): Promise<Outcome> {
  return measure(file.name, readFileSync(file.path), file.mimeType, file.expands, options);
}

async function measure(name: string, content: Buffer, mimeType: string, expands: string, options: ParseOptions = {}): Promise<Outcome> {
  const outcome = await parse(content, mimeType, options);
  measured.push([
    name,
    `${(content.length / 1e6).toFixed(2)} MB`,
    expands,
    outcome.error ? `${outcome.error.code}${outcome.error.details?.limit ? ` (${outcome.error.details.limit as string})` : ''}` : `accepted, ${outcome.chars} characters`,
    (outcome.ms / 1000).toFixed(2),
    `${mb(outcome.peakRss)} (+${mb(outcome.peakRss - outcome.startRss)})`,
    outcome.peakChildRss > 0 ? mb(outcome.peakChildRss) : '-',
  ]);
  return outcome;
}

/** Starts every process of `of` (a start is not counted against a document, but a test's clock would count it). */
async function warm(of: ParsePool): Promise<void> {
  await Promise.all(
    Array.from({ length: of.options.workers }, async () => {
      for await (const block of parseDocument(fixture('guide.pdf'), 'application/pdf', { pool: of })) void block;
    }),
  );
}

/** A good document of each pooled format still parses, in the same pool, right after. */
async function poolStillWorks(of = pool): Promise<void> {
  for (const [name, type] of [
    ['guide.pdf', 'application/pdf'],
    ['guide.docx', DOCX_MIME],
    ['guide.html', 'text/html'],
  ] as const) {
    const blocks: Block[] = [];
    for await (const block of parseDocument(fixture(name), type, { pool: of })) blocks.push(block);
    expect(blocks.map((b) => b.heading.at(-1))).toContain('Reimbursement');
  }
}

describe('hostile documents fail with their limit, in about its time, and the pool goes on', () => {
  it('a DOCX of 300 MB of tiny paragraphs (0.9 MB zipped): PARSE_LIMIT on MAX_DECOMPRESSED_BYTES, before inflating it', async () => {
    const { error, ms } = await hostile(docxOfTinyParagraphs(dir));
    expect(error).toMatchObject({ code: 'PARSE_LIMIT', retriable: false, details: { limit: 'MAX_DECOMPRESSED_BYTES', value: 128 * 1024 * 1024 } });
    expect(error!.message).toBe('the archive inflates to 300000692 bytes by its entry word/document.xml, over the limit of 134217728 bytes (MAX_DECOMPRESSED_BYTES)');
    expect(ms).toBeLessThan(5000); // nothing was inflated: ~0.1 s
    await poolStillWorks();
  });

  it('the same DOCX claiming its XML is 1 KB: stopped while inflating, by the ratio', async () => {
    const { error } = await hostile(docxOfTinyParagraphs(dir, 300_000_000, { claims: 1000 }));
    expect(error).toMatchObject({ code: 'PARSE_LIMIT', details: { limit: 'MAX_DECOMPRESSION_RATIO', value: 100 } });
    await poolStillWorks();
  });

  it('a DOCX whose text inflates to 1.1 GB: PARSE_LIMIT on MAX_DECOMPRESSED_BYTES', async () => {
    const { error, ms } = await hostile(docxOfHugeText(dir));
    expect(error).toMatchObject({ code: 'PARSE_LIMIT', details: { limit: 'MAX_DECOMPRESSED_BYTES' } });
    expect(ms).toBeLessThan(5000);
  });

  it('a DOCX within the decompression limits whose XML needs more memory than its process has: PARSE_LIMIT on PARSE_MEMORY_MB', async () => {
    // Prose that zips 4 to 1 like a real document's, 40 MB of XML: mammoth needs gigabytes for it.
    let seed = 7;
    const words = Array.from({ length: 120_000 }, () => {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      return ['kayak', 'paddle', 'river', 'tide', 'wind', 'helmet', 'spray', 'deck', 'club', 'trip', 'boat', 'shore'][seed % 12]! + String(seed % 997);
    }).join(' ');
    const content = docxOf(`<w:p><w:r><w:t>${words}</w:t></w:r></w:p>`, 40_000_000);
    const { error, ms } = await measure('docx of 40 MB of prose XML', content, DOCX_MIME, '40 MB of XML');
    expect(error).toMatchObject({ code: 'PARSE_LIMIT', details: { limit: 'PARSE_MEMORY_MB', value: MEMORY_MB } });
    expect(ms).toBeLessThan(5000);
    await poolStillWorks();
  });

  it('a PDF with a 1 GiB Flate stream: PARSE_LIMIT on PARSE_MEMORY_MB, pdf.js allocating outside the heap', async () => {
    const { error, ms } = await hostile(pdfWithFlateBomb(dir));
    expect(error).toMatchObject({ code: 'PARSE_LIMIT', details: { limit: 'PARSE_MEMORY_MB', value: MEMORY_MB } });
    expect(error!.message).toMatch(/^parsing the document needed more than the limit of 256 MB of memory \(PARSE_MEMORY_MB\); its process reached \d+ MB$/);
    // Killed as soon as it passed the limit: it did not run on (8 s here without the limit).
    expect(ms).toBeLessThan(5000);
    await poolStillWorks();
  });

  it('a PDF of 400 MB of text operators: PARSE_LIMIT on PARSE_TIMEOUT_MS, or on memory where that is tight', async () => {
    const { error, ms } = await hostile(pdfOfTextOperators(dir), { pool: slow });
    expect(error).toMatchObject({ code: 'PARSE_LIMIT', details: { limit: 'PARSE_TIMEOUT_MS', value: TIMEOUT_MS } });
    expect(error!.message).toBe(`parsing the document took longer than the limit of ${TIMEOUT_MS} ms (PARSE_TIMEOUT_MS)`);
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS);
    expect(ms).toBeLessThan(TIMEOUT_MS + 2000);
    // With the small memory limit, the inflated stream trips that first.
    expect((await hostile(pdfOfTextOperators(dir))).error).toMatchObject({ code: 'PARSE_LIMIT', details: { limit: 'PARSE_MEMORY_MB' } });
    await poolStillWorks(slow);
  });

  it('HTML nested 100,000 deep: a time limit, or the nesting rule when the parser is done first', async () => {
    const { error, ms } = await hostile(htmlNested(dir), { pool: slow });
    // htmlparser2 takes seconds over this nesting (more than linear time), so the limit trips;
    // a machine fast enough to finish first fails it with the nesting rule.
    if (error?.code === 'PARSE_LIMIT') expect(error.details).toEqual({ limit: 'PARSE_TIMEOUT_MS', value: TIMEOUT_MS });
    else expect(error).toMatchObject({ code: 'CORRUPT_DOCUMENT', message: 'content nests elements more than 1000 deep' });
    expect(ms).toBeLessThan(TIMEOUT_MS + 2000);
    await poolStillWorks(slow);
  });

  it('text over MAX_EXTRACTED_CHARS, in every format: PARSE_LIMIT naming the limit', async () => {
    const page = Array.from({ length: 40 }, (_, i) => ({ text: `Line ${i} of a long report about kayaks and the club's boats.` }));
    const pdf = writePdf(Array.from({ length: 100 }, () => page));
    for (const [content, type] of [
      [pdf, 'application/pdf'],
      [Buffer.from('A paragraph about paddles.\n\n'.repeat(10_000)), 'text/plain'],
      [Buffer.from(`<p>${'A paragraph about paddles. '.repeat(10)}</p>`.repeat(1_000)), 'text/html'],
    ] as const) {
      const { error } = await parse(content, type, { maxExtractedChars: 100_000 });
      expect(error).toMatchObject({ code: 'PARSE_LIMIT', details: { limit: 'MAX_EXTRACTED_CHARS', value: 100_000 } });
      expect(error!.message).toBe("the document's text is over the limit of 100000 characters (MAX_EXTRACTED_CHARS)");
    }
    await poolStillWorks();
  });
});

describe('the parse pool', () => {
  it('keeps serving other documents while one is stuck, and the stuck one costs others at most its time limit', async () => {
    const bomb = readFileSync(pdfOfTextOperators(dir).path);
    const pair = new ParsePool({ workers: 2, memoryMb: 2048, timeoutMs: TIMEOUT_MS });
    /** When it finished, ms from the start of the test. */
    const started = performance.now();
    const finished = async (content: Buffer, options: ParseOptions) => {
      const outcome = await parse(content, 'application/pdf', options);
      return { ...outcome, at: performance.now() - started };
    };
    try {
      // Two processes: a good document beside the bomb is read at once, long before the bomb's limit.
      await warm(pair);
      const [stuck, good] = await Promise.all([finished(bomb, { pool: pair }), finished(fixture('guide.pdf'), { pool: pair })]);
      expect([stuck.error?.code, good.error]).toEqual(['PARSE_LIMIT', undefined]);
      expect(good.at).toBeLessThan(stuck.at - TIMEOUT_MS / 3);
      // One process: the good document waits out the bomb's limit, then the process that replaced it reads it.
      const single = slow;
      const before = single.stats();
      const since = performance.now();
      const [alone, waited] = await Promise.all([finished(bomb, { pool: single }), finished(fixture('guide.pdf'), { pool: single })]);
      expect([alone.error?.code, waited.error]).toEqual(['PARSE_LIMIT', undefined]);
      expect(waited.at - (since - started)).toBeGreaterThanOrEqual(TIMEOUT_MS);
      expect(waited.at - (since - started)).toBeLessThan(TIMEOUT_MS + 5000);
      expect(single.stats()).toMatchObject({ killed: before.killed + 1, started: before.started + 1, processes: 1, queued: 0 });
    } finally {
      await pair.close();
    }
  });

  it('kills the process of a document read only in part, and replaces it', async () => {
    const own = new ParsePool({ workers: 1, memoryMb: MEMORY_MB, timeoutMs: 10_000 });
    try {
      const pages = Array.from({ length: 300 }, (_, i) => [{ text: `Page ${i} says something about kayaks, again and again and again.`.repeat(20) }]);
      const blocks = parseDocument(writePdf(pages), 'application/pdf', { pool: own });
      expect((await blocks.next()).value).toMatchObject({ page: 1 });
      await blocks.return(undefined);
      await eventually(() => own.stats().started === 2 && own.stats().processes === 1, { timeoutMs: 10_000 });
      const again: Block[] = [];
      for await (const block of parseDocument(fixture('guide.pdf'), 'application/pdf', { pool: own })) again.push(block);
      expect(again.length).toBeGreaterThan(0);
      expect(own.stats()).toMatchObject({ started: 2, killed: 0 });
    } finally {
      await own.close();
    }
  });

  it('leaves no process behind when fetch is killed in the middle of a document', async () => {
    // A fetch of its own (the pool, run from source) that starts the bomb and is SIGKILLed mid-parse.
    const script = path.join(dir, 'fetch-like.cjs');
    writeFileSync(
      script,
      `const { ParsePool } = require(${JSON.stringify(path.join(__dirname, '..', 'src', 'parse-pool.ts'))});
       const pool = new ParsePool({ workers: 1, memoryMb: 2048, timeoutMs: 60000 });
       const content = require('node:fs').readFileSync(process.argv[3]);
       (async () => { for await (const _ of pool.parse('pdf', content, { maxDecompressedBytes: 1, maxDecompressionRatio: 1 })) void _; })();`,
    );
    const loader = path.join(__dirname, '..', 'src', 'parse-child-from-source.cjs');
    const parent = spawn(process.execPath, [loader, script, pdfOfTextOperators(dir).path], { stdio: 'ignore' });
    const exited = new Promise((resolve) => parent.once('exit', resolve));
    try {
      const child = await eventually(
        () => {
          const pids = readFileSync(`/proc/${parent.pid}/task/${parent.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
          expect(pids).toHaveLength(1);
          // Working on the document: past the ~110 MB of a process that has only started.
          expect(Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pids[0]}/status`, 'utf8'))![1])).toBeGreaterThan(200_000);
          return pids[0]!;
        },
        { timeoutMs: 20_000 },
      );
      parent.kill('SIGKILL');
      await exited;
      await eventually(() => !alive(child), { timeoutMs: 5_000, description: `parse process ${child} to end` });
    } finally {
      parent.kill('SIGKILL');
    }
  });
});

function alive(pid: number): boolean {
  try {
    // A zombie (exited, not yet reaped by init) counts as gone.
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}
