/**
 * `npm run bench:parse`: parse-and-chunk throughput of the fetch service per format, and the peak
 * memory (RSS) of a fetch-like process on each input. Inputs are generated (seeded, so every run
 * reads the same bytes): a 50 MB text file, a 500-page PDF, a 500-page PDF of Japanese text in a
 * CID font (a Type0 font with the predefined CMap UniJIS-UCS2-H, read through pdf.js's character
 * maps), and smaller Markdown, HTML and DOCX files. Each input is handled in a child process of its own by the fetch handler itself (with a
 * stub database that returns the document, and a context that serialises what it emits as the
 * Kafka runner would and drops it), so the peak RSS is that of one fetch process with one
 * document. Options: --text-mb, --pdf-pages, --cjk-pages, --other-mb, --strategy (recursive | fixed), and
 * --heap-mb N to run each child with a V8 heap limit of N MB (--max-old-space-size): that the 50 MB
 * file still goes through shows the memory a document takes is bounded, whatever RSS V8's lazy
 * collection lets grow when it has room. PDF, DOCX and HTML are parsed in fetch's parse processes
 * (parse-pool.ts): the table shows their peak RSS beside fetch's. --hostile runs the hostile
 * inputs of services/fetch/test/fixtures/hostile.ts instead (with fetch's default limits, or
 * PARSE_MEMORY_MB, PARSE_TIMEOUT_MS, ... from the environment), and shows how each one fails.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import AdmZip from 'adm-zip';
import { createLogger } from '@docintel/core';
import { encodeMessage, topicNames, type IngestRequest } from '@docintel/contracts';
import type { Queryable } from '@docintel/db';
import type { HandlerContext, OutboundMessage } from '@docintel/kafka';
// The service's own modules, built (npm run build); the package exports only its entry point.
import { loadFetchConfig } from '@docintel/fetch/dist/config.js';
import { createFetchHandler } from '@docintel/fetch/dist/handler.js';
import { ParsePool } from '@docintel/fetch/dist/parse-pool.js';
import { allHostile } from '../services/fetch/test/fixtures/hostile.ts';
import { writePdf, type PdfTextLine } from '../services/fetch/test/fixtures/pdf-writer.ts';
import { cjkPages } from '../services/fetch/test/fixtures/wild.ts';

const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';
const MB = 1024 * 1024;

interface Result {
  bytes: number;
  chunks: number;
  batches: number;
  flushes: number;
  seconds: number;
  peakRssMb: number;
  /** The largest RSS of a parse process (PDF, DOCX, HTML), sampled every 50 ms; 0 when none ran. */
  parsePeakRssMb: number;
  /** The failure's code and message, when the document failed. */
  error?: string;
}

const { values } = parseArgs({
  options: {
    child: { type: 'string' },
    mime: { type: 'string', default: 'text/plain' },
    strategy: { type: 'string', default: 'recursive' },
    'text-mb': { type: 'string', default: '50' },
    'pdf-pages': { type: 'string', default: '500' },
    'cjk-pages': { type: 'string', default: '500' },
    'other-mb': { type: 'string', default: '5' },
    'heap-mb': { type: 'string' },
    hostile: { type: 'boolean', default: false },
  },
});

/** In the child: one document through the fetch handler, as the service would handle it. */
async function handleOne(file: string, mimeType: string, strategy: string): Promise<Result> {
  if (file === '') return { bytes: 0, chunks: 0, batches: 0, flushes: 0, seconds: 0, peakRssMb: process.resourceUsage().maxRSS / 1024, parsePeakRssMb: 0 };
  const content = readFileSync(file);
  const now = new Date();
  const row = { id: 'bench-doc', tenant_id: 'bench', source: file, title: '', mime_type: mimeType, version: 1, content_sha256: '', deleted_at: null, created_at: now, updated_at: now, size: content.length };
  // The documents table as fetch reads it: the row with its size, then the content in slices.
  const rows = (list: object[]) => ({ rows: list, rowCount: list.length, command: 'SELECT', oid: 0, fields: [] });
  const db = {
    query: async (text: string, params: number[]) => (text.includes('substring') ? rows([{ part: content.subarray(params[1]! - 1, params[1]! - 1 + params[2]!) }]) : rows([row])),
  } as unknown as Queryable;
  const topics = topicNames();
  const config = loadFetchConfig({ ...process.env, CHUNK_STRATEGY: strategy });
  const parsePool = new ParsePool(config.parsePool);
  const handler = createFetchHandler({ topics, db, parsePool }, config);
  const result: Result = { bytes: content.length, chunks: 0, batches: 0, flushes: 0, seconds: 0, peakRssMb: 0, parsePeakRssMb: 0 };
  const queue: OutboundMessage[] = [];
  // Sending is serialising here: the bytes a producer would hand to the broker, then dropped.
  const send = (): void => {
    for (const message of queue.splice(0)) {
      encodeMessage(message.value);
      if (message.topic === topics.chunks) {
        result.batches += 1;
        result.chunks += (message.value as { chunks: unknown[] }).chunks.length;
      }
    }
  };
  const context: HandlerContext = {
    emit: (message) => void queue.push(message),
    flush: async () => {
      result.flushes += 1;
      send();
    },
    heartbeat: async () => undefined,
  };
  const request: IngestRequest = { tenantId: 'bench', documentId: 'bench-doc', version: 1, op: 'upsert' };
  const logger = createLogger({ service: 'bench-fetch', level: 'warn', stderr: true });
  // A parse process is started before the clock starts, as it would be in a running service.
  for await (const block of parsePool.parse('html', Buffer.from('<p>warm-up</p>'), config.limits)) void block;
  const started = performance.now();
  try {
    await handler.handle({ value: request, key: 'bench', headers: {}, topic: topics.ingest, partition: 0, offset: '0', attempt: 0, traceId: 'bench', replayed: false, logger }, context);
    send(); // what the runner sends after the handler returns
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    result.error = `${code ?? 'error'}: ${message}`;
  }
  result.seconds = (performance.now() - started) / 1000;
  result.peakRssMb = process.resourceUsage().maxRSS / 1024;
  result.parsePeakRssMb = parsePool.stats().peakRssBytes / MB;
  await parsePool.close();
  return result;
}

function main(): void {
  const textMb = Number(values['text-mb']);
  const pdfPages = Number(values['pdf-pages']);
  const cjkPdfPages = Number(values['cjk-pages']);
  const otherMb = Number(values['other-mb']);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'docintel-bench-parse-'));
  try {
    if (values.hostile) {
      hostile(dir);
      return;
    }
    const inputs: [string, string, string][] = [
      [`text ${textMb} MB`, 'text/plain', write(dir, 'big.txt', Buffer.from(plainText(textMb * MB)))],
      [`pdf ${pdfPages} pages`, 'application/pdf', write(dir, 'big.pdf', pdf(pdfPages))],
      [`pdf ${cjkPdfPages} pages, CJK in a CID font`, 'application/pdf', write(dir, 'cjk.pdf', writePdf(cjkPages(cjkPdfPages), [], { font: 'japanese' }))],
      [`markdown ${otherMb} MB`, 'text/markdown', write(dir, 'big.md', Buffer.from(markdown(otherMb * MB)))],
      [`html ${otherMb} MB`, 'text/html', write(dir, 'big.html', Buffer.from(html(otherMb * MB)))],
      [`docx ${otherMb} MB of text`, DOCX, write(dir, 'big.docx', docx(otherMb * MB))],
    ];
    const baseline = runChild('', 'text/plain');
    if (typeof baseline === 'string') throw new Error(`the baseline child ${baseline}`);
    const heap = values['heap-mb'] === undefined ? '' : `, heap limited to ${values['heap-mb']} MB`;
    console.log(`parse and chunk, strategy ${values.strategy}, default sizes (256 tokens, 32 overlap)${heap}; node ${process.version}, ${os.cpus().length} cores`);
    console.log(`baseline: a fetch-like process that has loaded everything and read nothing peaks at ${baseline.peakRssMb.toFixed(0)} MB RSS\n`);
    const header = ['input', 'file MB', 'chunks', 'batches', 'flushes', 'seconds', 'MB/s', 'chunks/s', 'peak RSS MB', 'parse process MB'];
    const rows = inputs.map(([name, mime, file]) => {
      const r = runChild(file, mime);
      if (typeof r === 'string') return [name, '', '', '', '', '', '', '', r, ''];
      if (r.error !== undefined) return [name, (r.bytes / MB).toFixed(1), '', '', '', r.seconds.toFixed(2), '', '', r.peakRssMb.toFixed(0), parseMb(r), r.error];
      return [name, (r.bytes / MB).toFixed(1), String(r.chunks), String(r.batches), String(r.flushes), r.seconds.toFixed(2), (r.bytes / MB / r.seconds).toFixed(1), (r.chunks / r.seconds).toFixed(0), r.peakRssMb.toFixed(0), parseMb(r)];
    });
    printTable(header, rows);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The hostile inputs, each in a fetch-like process of its own: how it fails, in what time, at what memory. */
function hostile(dir: string): void {
  const config = loadFetchConfig(process.env);
  const { workers, memoryMb, timeoutMs } = config.parsePool;
  console.log(`hostile inputs through the fetch handler; ${workers} parse processes of ${memoryMb} MB and ${timeoutMs} ms, MAX_DECOMPRESSED_BYTES ${config.limits.maxDecompressedBytes}, MAX_DECOMPRESSION_RATIO ${config.limits.maxDecompressionRatio}, MAX_EXTRACTED_CHARS ${config.limits.maxExtractedChars}; node ${process.version}, ${os.cpus().length} cores\n`);
  const header = ['input', 'file MB', 'expands to', 'seconds', 'fetch peak RSS MB', 'parse process MB', 'result'];
  const rows = allHostile(dir).map((file) => {
    const r = runChild(file.path, file.mimeType);
    if (typeof r === 'string') return [file.name, (file.bytes / MB).toFixed(2), file.expands, '', '', '', r];
    return [file.name, (file.bytes / MB).toFixed(2), file.expands, r.seconds.toFixed(2), r.peakRssMb.toFixed(0), parseMb(r), r.error ?? `accepted: ${r.chunks} chunks`];
  });
  printTable(header, rows);
}

function parseMb(r: Result): string {
  return r.parsePeakRssMb > 0 ? r.parsePeakRssMb.toFixed(0) : '-';
}

function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  // Numbers (and their headers) to the right, words to the left.
  const numeric = header.map((_, i) => rows.some((row) => /^[\d.]+$/.test(row[i] ?? '')));
  for (const row of [header, ...rows]) console.log(row.map((cell, i) => (numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i] ?? 0))).join('  ').trimEnd());
}

/** One input in a child process of its own; a failure (out of heap) becomes its reason. */
function runChild(file: string, mime: string): Result | string {
  const result = spawnSync(
    process.execPath,
    [
      '--disable-warning=MODULE_TYPELESS_PACKAGE_JSON',
      ...(values['heap-mb'] === undefined ? [] : [`--max-old-space-size=${values['heap-mb']}`]),
      process.argv[1]!,
      '--child', file, '--mime', mime, '--strategy', values.strategy],
    { encoding: 'utf8', maxBuffer: 16 * MB, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  if (result.status !== 0) return /heap out of memory/.test(result.stderr) ? 'out of heap' : `failed: ${result.stderr.trim().split('\n').slice(0, 3).join(' ')}`;
  return JSON.parse(result.stdout.trim().split('\n').at(-1)!) as Result;
}

function write(dir: string, name: string, content: Buffer): string {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
}

// ---- seeded inputs ----------------------------------------------------------------------------

const WORDS = 'account adapter archive audit balance batch billing branch buffer cache capacity catalog channel client cluster commit config contract cursor dataset deploy digest domain engine event export feature filter gateway graph handler index invoice journal kernel ledger limit listener manifest metric module monitor network offset order packet parser payload pipeline policy portal profile quota record region release replica report request resource router schedule schema search segment server session signal snapshot source storage stream summary table template tenant ticket token topic trace'.split(' ');

function random(seed: number): (n: number) => number {
  let state = seed >>> 0;
  return (n) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % n;
  };
}

function sentence(next: (n: number) => number): string {
  const words = Array.from({ length: 6 + next(14) }, () => WORDS[next(WORDS.length)]!);
  words[0] = words[0]!.charAt(0).toUpperCase() + words[0]!.slice(1);
  return `${words.join(' ')}.`;
}

function paragraph(next: (n: number) => number): string {
  return Array.from({ length: 2 + next(6) }, () => sentence(next)).join(' ');
}

/** Paragraphs of prose, hard-wrapped at about 80 columns like a typical text file; exactly `bytes` long (ASCII). */
function plainText(bytes: number): string {
  const next = random(1);
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    const text = paragraph(next).replace(/(.{1,79})(?: |$)/g, '$1\n').trimEnd();
    parts.push(text);
    size += text.length + 2;
  }
  // Exactly the size: 50 MB is the service's default MAX_DOCUMENT_BYTES.
  return parts.join('\n\n').slice(0, bytes);
}

function markdown(bytes: number): string {
  const next = random(2);
  const parts: string[] = [];
  let size = 0;
  for (let section = 1; size < bytes; section++) {
    parts.push(section % 10 === 1 ? `# Part ${section}` : `## Section ${section}`);
    for (let i = 0; i < 4; i++) parts.push(next(4) === 0 ? `- ${sentence(next)}\n- ${sentence(next)}` : paragraph(next).replace(/ (\w+) /, ' **$1** '));
    size += parts.slice(-5).join('\n\n').length;
  }
  return parts.join('\n\n');
}

function html(bytes: number): string {
  const next = random(3);
  const parts: string[] = ['<!doctype html><html><head><title>Bench</title></head><body>'];
  let size = 0;
  for (let section = 1; size < bytes; section++) {
    const part = `<h${section % 10 === 1 ? 1 : 2}>Section ${section}</h${section % 10 === 1 ? 1 : 2}>${Array.from({ length: 4 }, () => `<p>${paragraph(next)}</p>`).join('')}`;
    parts.push(part);
    size += part.length;
  }
  parts.push('</body></html>');
  return parts.join('\n');
}

/** A DOCX with Heading 1/2 paragraphs, made from its XML parts (what an office suite writes, minus styling). */
function docx(bytes: number): Buffer {
  const next = random(4);
  const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const para = (text: string, style?: string) => `<w:p>${style ? `<w:pPr><w:pStyle w:val="${style}"/></w:pPr>` : ''}<w:r><w:t xml:space="preserve">${escape(text)}</w:t></w:r></w:p>`;
  const body: string[] = [];
  let size = 0;
  for (let section = 1; size < bytes; section++) {
    body.push(para(`Section ${section}`, section % 10 === 1 ? 'Heading1' : 'Heading2'));
    for (let i = 0; i < 4; i++) {
      const text = paragraph(next);
      body.push(para(text));
      size += text.length;
    }
  }
  const W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"';
  const style = (id: string, name: string) => `<w:style w:type="paragraph" w:styleId="${id}"><w:name w:val="${name}"/></w:style>`;
  const zip = new AdmZip();
  zip.addFile('[Content_Types].xml', Buffer.from('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/></Types>'));
  zip.addFile('_rels/.rels', Buffer.from('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>'));
  zip.addFile('word/_rels/document.xml.rels', Buffer.from('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>'));
  zip.addFile('word/styles.xml', Buffer.from(`<?xml version="1.0" encoding="UTF-8"?><w:styles ${W}>${style('Heading1', 'heading 1')}${style('Heading2', 'heading 2')}</w:styles>`));
  zip.addFile('word/document.xml', Buffer.from(`<?xml version="1.0" encoding="UTF-8"?><w:document ${W}><w:body>${body.join('')}</w:body></w:document>`));
  return zip.toBuffer();
}

/** A report: a title every 50 pages, a heading every 12 lines, body lines of about 90 characters. */
function pdf(pages: number): Buffer {
  const next = random(5);
  const doc: PdfTextLine[][] = [];
  for (let page = 1; page <= pages; page++) {
    const lines: PdfTextLine[] = [];
    if (page % 50 === 1) lines.push({ text: `Chapter ${Math.ceil(page / 50)}`, size: 20 }, { text: '' });
    while (lines.length < 48) {
      if (lines.length % 12 === 0) lines.push({ text: `Section ${page}.${lines.length / 12 + 1}`, size: 14 });
      const words = paragraph(next).split(' ');
      let line = '';
      for (const word of words) {
        if (line.length + word.length > 90) {
          lines.push({ text: line.trim() });
          line = '';
        }
        line += `${word} `;
      }
      lines.push({ text: line.trim() }, { text: '' });
    }
    doc.push(lines.slice(0, 50));
  }
  return writePdf(doc);
}

// Last, after every constant above is initialised. Node runs this file as ESM (it has imports)
// while tsc checks it as CommonJS (no "type" in the
// root package.json), so it uses neither top-level await nor import.meta.
if (values.child !== undefined) {
  const child = values.child;
  void handleOne(child, values.mime, values.strategy).then((result) => process.stdout.write(`${JSON.stringify(result)}\n`));
} else {
  main();
}
