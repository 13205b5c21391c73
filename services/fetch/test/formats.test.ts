import { readFileSync } from 'node:fs';
import path from 'node:path';
import AdmZip from 'adm-zip';
import { PermanentError } from '@docintel/core';
import { DEFAULT_CHUNK_OPTIONS, chunkDocument, type ChunkOptions, type TextChunk } from '../src/chunk';
import { closeDefaultParsePool, parseDocument } from '../src/parse';
import { writePdf } from './fixtures/pdf-writer';
import { WILD_PDFS, junkMarkdown } from './fixtures/wild';

// The fixtures are made by fixtures/make-fixtures.sh (LibreOffice); see there.
// PDF, DOCX and HTML are parsed in the default pool's processes.
afterAll(() => closeDefaultParsePool());
const fixture = (name: string): Buffer => readFileSync(path.join(__dirname, 'fixtures', name));
const PDF = 'application/pdf';
const DOCX = 'application/vnd.openxmlformats-officedocument.wordprocessingml.document';

async function chunks(content: Buffer, mimeType: string, options: Partial<ChunkOptions> = {}): Promise<TextChunk[]> {
  const out: TextChunk[] = [];
  for await (const chunk of chunkDocument(parseDocument(content, mimeType), { ...DEFAULT_CHUNK_OPTIONS, ...options })) out.push(chunk);
  return out;
}

async function rejection(content: Buffer, mimeType: string): Promise<PermanentError> {
  try {
    await chunks(content, mimeType);
  } catch (error) {
    if (error instanceof PermanentError) return error;
    throw error;
  }
  throw new Error('expected a PermanentError, but nothing was thrown');
}

/** Chunks as [heading path, text with whitespace collapsed, first page, last page]. */
const summary = (list: TextChunk[]) => list.map((c) => [c.heading, c.text.replace(/\s+/g, ' '), c.page, c.pageEnd]);

// The field guide's six sections, in every format that has headings.
const GUIDE: [string[], string, number][] = [
  [['Kayak Field Guide'], 'This guide covers what every member of the paddling club needs before a trip on open water.', 1],
  [['Kayak Field Guide', 'Safety'], 'Always wear a buoyancy aid and tell someone ashore where you are going and when you will be back. Check the forecast for wind and tide; turn back early rather than late.', 1],
  [['Kayak Field Guide', 'Equipment'], 'The club lends boats, spray decks and helmets to members who book them a week ahead.', 2],
  [['Kayak Field Guide', 'Equipment', 'Paddles'], 'Choose a paddle about twenty centimetres taller than you are; feathered blades suit windy days.', 2],
  [['Expenses'], 'Trips are paid for by the members who take part, shared equally.', 3],
  [['Expenses', 'Reimbursement'], 'Kayak rental and travel costs are reimbursed within thirty days of a receipt sent to the treasurer.', 3],
];

describe('every format, from the fixtures', () => {
  it.each([
    ['guide.md', 'text/markdown'],
    ['guide.html', 'text/html'],
    ['guide.docx', DOCX],
  ])('%s: one chunk per section, with its heading path and no pages', async (name, type) => {
    expect(summary(await chunks(fixture(name), type))).toEqual(GUIDE.map(([heading, text]) => [heading, text, undefined, undefined]));
  });

  it('guide.pdf: one chunk per section, headings from the bookmarks, and pages', async () => {
    expect(summary(await chunks(fixture('guide.pdf'), PDF))).toEqual(GUIDE.map(([heading, text, page]) => [heading, text, page, page]));
  });

  it('guide.txt: plain text has no headings, so small chunks only follow paragraphs', async () => {
    const list = await chunks(fixture('guide.txt'), 'text/plain');
    expect(list).toHaveLength(1);
    expect(list[0]!.heading).toEqual([]);
    // The heading lines are paragraphs like any other: small chunks pack them with the text after them.
    const small = await chunks(fixture('guide.txt'), 'text/plain', { size: 32, overlap: 0 });
    expect(small.map((c) => c.text.split('\n\n'))).toEqual([
      ['Kayak Field Guide', 'This guide covers what every member of the paddling club needs before a trip on open water.', 'Safety'],
      ['Always wear a buoyancy aid and tell someone ashore where you are going and when you will be back.'],
      ['Check the forecast for wind and tide; turn back early rather than late.', 'Equipment'],
      ['The club lends boats, spray decks and helmets to members who book them a week ahead.', 'Paddles'],
      ['Choose a paddle about twenty centimetres taller than you are; feathered blades suit windy days.', 'Expenses'],
      ['Trips are paid for by the members who take part, shared equally.', 'Reimbursement'],
      ['Kayak rental and travel costs are reimbursed within thirty days of a receipt sent to the treasurer.'],
    ]);
  });

  it('guide.pdf with fixed windows: chunks run across pages and say so', async () => {
    const list = await chunks(fixture('guide.pdf'), PDF, { strategy: 'fixed', size: 64, overlap: 8 });
    // Headings are paths, not text; a window's heading is its first word's.
    expect(list.map((c) => [c.heading, c.page, c.pageEnd])).toEqual([
      [['Kayak Field Guide'], 1, 1],
      [['Kayak Field Guide', 'Safety'], 1, 3],
      [['Kayak Field Guide', 'Equipment', 'Paddles'], 2, 3],
    ]);
    expect(list.at(-1)!.text).toMatch(/treasurer\.$/);
  });
});

describe('PDF', () => {
  it('takes headings from font sizes when there are no bookmarks, and numbers pages', async () => {
    const pdf = writePdf([
      [{ text: 'Annual Report', size: 24 }, { text: '' }, { text: 'The year in short.' }, { text: '' }, { text: 'Revenue', size: 16 }, { text: 'Revenue grew.' }, { text: 'It grew a lot.' }],
      [{ text: 'Costs', size: 16 }, { text: 'Travel', size: 14 }, { text: 'Travel costs fell.' }, { text: '' }, { text: 'Mostly trains.' }],
    ]);
    expect(summary(await chunks(pdf, PDF))).toEqual([
      [['Annual Report'], 'The year in short.', 1, 1],
      [['Annual Report', 'Revenue'], 'Revenue grew. It grew a lot.', 1, 1],
      [['Annual Report', 'Costs', 'Travel'], 'Travel costs fell. Mostly trains.', 2, 2],
    ]);
    const [revenue] = (await chunks(pdf, PDF)).slice(1);
    expect(revenue!.text).toBe('Revenue grew.\nIt grew a lot.'); // lines of a paragraph stay lines
  });

  it('gives a chunk that runs over a page break both pages', async () => {
    const body = Array.from({ length: 30 }, (_, i) => ({ text: `Line ${i} of a long paragraph about paddling.` }));
    const list = await chunks(writePdf([body, body]), PDF, { size: 200, overlap: 0 });
    const pages = list.map((c) => [c.page, c.pageEnd]);
    expect(pages[0]).toEqual([1, 1]);
    expect(pages).toContainEqual([1, 2]);
    expect(pages.at(-1)).toEqual([2, 2]);
  });

  it.each([
    ['an encrypted PDF', () => fixture('encrypted.pdf'), 'CORRUPT_DOCUMENT', 'PDF is encrypted: it needs a password to open; send it without one'],
    ['a PDF without text', () => fixture('blank.pdf'), 'EMPTY_DOCUMENT', 'document has no text after parsing it as application/pdf (a scanned PDF needs OCR, which fetch does not do)'],
    ['a truncated PDF', () => fixture('guide.pdf').subarray(0, 2000), 'CORRUPT_DOCUMENT', /^content is not a readable PDF: /],
    ['text labelled as PDF', () => Buffer.from('hello'), 'CORRUPT_DOCUMENT', 'content has no "%PDF-" header in its first 1024 bytes, so it is not application/pdf'],
    ['a header after 1024 bytes', () => Buffer.concat([Buffer.alloc(1020, ' '), fixture('guide.pdf')]), 'CORRUPT_DOCUMENT', 'content has no "%PDF-" header in its first 1024 bytes, so it is not application/pdf'],
    ['a DOCX labelled as PDF', () => fixture('guide.docx'), 'CORRUPT_DOCUMENT', 'content looks like a ZIP archive (DOCX, XLSX, ODT, ...), so it is not application/pdf'],
    ['no bytes at all', () => Buffer.alloc(0), 'EMPTY_DOCUMENT', 'content is empty, so it is not application/pdf'],
  ])('rejects %s', async (_name, content, code, message) => {
    const error = await rejection(content(), PDF);
    expect(error.code).toBe(code);
    expect(error.message).toMatch(message);
    expect(error.retriable).toBe(false);
  });

  it('stops its parse process when the reader stops early', async () => {
    const blocks = parseDocument(writePdf(Array.from({ length: 50 }, () => [{ text: 'Some text.' }])), PDF);
    expect((await blocks.next()).value).toMatchObject({ page: 1 });
    await blocks.return(undefined);
    expect(await blocks.next()).toEqual({ done: true, value: undefined });
  });
});

describe('documents from the wild (fixtures/wild.ts, make-fixtures.sh)', () => {
  it('the committed fixtures are what wild.ts and pdf-writer.ts make', () => {
    for (const [name, { pages, options }] of Object.entries(WILD_PDFS)) expect(writePdf(pages, [], options).equals(fixture(name))).toBe(true);
    expect(fixture('junk.md').toString('utf8')).toBe(junkMarkdown());
  });

  it('cjk.pdf: Japanese in a Type0 font with a predefined CMap (UniJIS-UCS2-H), read through the character maps', async () => {
    expect(summary(await chunks(fixture('cjk.pdf'), PDF))).toEqual([
      [['カヤック安全ガイド'], '出発する前に必ずライフジャケットを着用し、陸にいる人に行き先と帰る時間を伝えてください。 風と潮の予報を確認し、遅くなる前に早めに引き返しましょう。', 1, 1],
      [['カヤック安全ガイド', '装備の貸し出し'], 'クラブは一週間前に予約した会員にボートとヘルメットを貸し出します。', 2, 2],
    ]);
  });

  it('cid-latin.pdf: English in a CID font without a ToUnicode map (Identity-H, Adobe-Japan1)', async () => {
    expect(summary(await chunks(fixture('cid-latin.pdf'), PDF))).toEqual([
      [
        ['Harbour Notice'],
        'The slipway at the north harbour is closed for repairs until the end of the month. Launch from the beach beside the sailing club instead, and mind the moorings at low tide.',
        1,
        1,
      ],
    ]);
  });

  it('the Korean font (UniKS-UCS2-H) too', async () => {
    const pdf = writePdf([[{ text: '카약 안전 안내', size: 16 }, { text: '' }, { text: '출발하기 전에 반드시 구명조끼를 착용하십시오.' }]], [], { font: 'korean' });
    expect(summary(await chunks(pdf, PDF))).toEqual([[['카약 안전 안내'], '출발하기 전에 반드시 구명조끼를 착용하십시오.', 1, 1]]);
  });

  it('preamble.pdf: 200 bytes before the header, read as the PDF after them, bookmarks and all', async () => {
    expect(fixture('preamble.pdf').subarray(0, 200).includes('%PDF-')).toBe(false);
    expect(summary(await chunks(fixture('preamble.pdf'), PDF))).toEqual(summary(await chunks(fixture('guide.pdf'), PDF)));
  });

  it.each([
    ['notice.euc-kr.html', 'text/html', [['카약 안전 안내'], '출발하기 전에 반드시 구명조끼를 착용하고, 육지에 있는 사람에게 행선지와 돌아올 시간을 알려 주십시오.']],
    ['cafe.windows-1252.html', 'text/html', [['Café rental terms'], 'The club’s café rents paddles for €5 a day — “first come, first served” — and crème brûlée after a crossing.']],
    ['tides.utf-16.txt', 'text/plain', [[], 'Tide notes Spring tides run strongest two days after the full moon; plan every crossing of the bar for slack water.']],
  ])('%s: decoded by its declaration or byte order mark', async (name, type, first) => {
    expect(summary(await chunks(fixture(name), type))[0]?.slice(0, 2)).toEqual(first);
  });
});

describe('DOCX', () => {
  const zipOf = (entries: Record<string, string>): Buffer => {
    const zip = new AdmZip();
    for (const [name, text] of Object.entries(entries)) zip.addFile(name, Buffer.from(text));
    return zip.toBuffer();
  };

  it.each([
    ['a ZIP without word/document.xml', () => zipOf({ 'hello.txt': 'hi' }), 'content is a ZIP archive without word/document.xml, so it is not application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
    ['a truncated DOCX', () => fixture('guide.docx').subarray(0, 3000), /^content is a ZIP archive whose directory cannot be read/],
    ['a broken document.xml', () => zipOf({ '[Content_Types].xml': '<Types/>', 'word/document.xml': '<w:document><w:body' }), /^content is not a readable DOCX: /],
    ['an OLE2 file (password-protected or .doc)', () => Buffer.from('d0cf11e0a1b11ae1'.padEnd(1024, '0'), 'hex'), /a password-protected DOCX or a legacy Word \.doc/],
    ['a PDF labelled as DOCX', () => fixture('guide.pdf'), 'content looks like a PDF, so it is not application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
  ])('rejects %s as corrupt', async (_name, content, message) => {
    const error = await rejection(content(), DOCX);
    expect([error.code, error.retriable]).toEqual(['CORRUPT_DOCUMENT', false]);
    expect(error.message).toMatch(message);
  });
});
