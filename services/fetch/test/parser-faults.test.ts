import path from 'node:path';
import AdmZip from 'adm-zip';
import { PermanentError, TransientError, classifyError } from '@docintel/core';
import type { Block } from '../src/blocks';
import { docxFailure, isPdfInputError, isRuntimeFault, pdfFailure } from '../src/parse-errors';
import { parseDocument } from '../src/parse';
import { ParsePool } from '../src/parse-pool';
import { DOCX_MIME } from './fixtures/hostile';
import { writePdf } from './fixtures/pdf-writer';

/** pdf.js's exceptions as they reach us: objects with a name, a message and (UnknownErrorException) details. */
function pdfjsError(name: string, message: string, details?: string): Error {
  const error = new Error(message);
  error.name = name;
  return Object.assign(error, details === undefined ? {} : { details });
}

describe('which parser errors are the document\'s fault', () => {
  it.each([
    ['InvalidPDFException', pdfjsError('InvalidPDFException', 'Invalid PDF structure.')],
    ['FormatError from the worker', pdfjsError('UnknownErrorException', 'Bad FCHECK in flate stream: 120, 253', 'FormatError: Bad FCHECK in flate stream: 120, 253')],
    ['XRefParseException from the worker', pdfjsError('UnknownErrorException', 'x', 'XRefParseException: x')],
  ])('a PDF: %s is CORRUPT_DOCUMENT', (_name, error) => {
    expect(isPdfInputError(error)).toBe(true);
    expect(pdfFailure(error, 3)).toMatchObject({ code: 'CORRUPT_DOCUMENT', retriable: false, message: `page 3 of the PDF cannot be read: ${error.message}` });
  });

  it('a PDF that needs a password is CORRUPT_DOCUMENT, saying so', () => {
    expect(pdfFailure(pdfjsError('PasswordException', 'No password given'))).toMatchObject({ code: 'CORRUPT_DOCUMENT', details: { encrypted: true } });
  });

  it.each([
    ['a TypeError of ours', new TypeError("Cannot read properties of undefined (reading 'str')")],
    ['a TypeError in the worker', pdfjsError('UnknownErrorException', 'x is not a function', 'TypeError: x is not a function')],
    ['a ReferenceError', new ReferenceError('layout is not defined')],
    ['an allocation failure', new RangeError('Array buffer allocation failed')],
  ])('a PDF: %s is passed on as it is, INTERNAL (or the memory limit), never CORRUPT_DOCUMENT', (_name, error) => {
    expect(pdfFailure(error)).toBe(error);
    expect(classifyError(error).code).toBe('INTERNAL');
    expect(classifyError(error).retriable).toBe(true);
  });

  it('a DOCX: mammoth\'s and the XML parser\'s plain Errors are the document\'s, runtime faults are not', () => {
    expect(docxFailure(new Error('Could not find main document part. Are you sure this is a valid .docx file?'))).toMatchObject({ code: 'CORRUPT_DOCUMENT' });
    expect(docxFailure(new Error('[xmldom error]\tunclosed xml attribute'))).toBeInstanceOf(PermanentError);
    const bug = new TypeError("Cannot read properties of undefined (reading 'children')");
    expect(docxFailure(bug)).toBe(bug);
    expect(isRuntimeFault(bug)).toBe(true);
    expect(isRuntimeFault(new RangeError('Invalid string length'))).toBe(false); // memory, not a bug
    const ours = new PermanentError('PARSE_LIMIT', 'too big');
    expect(docxFailure(ours)).toBe(ours);
  });
});

/** The least DOCX mammoth reads: a document part, and the relationship that names it. */
function docx(body: string): Buffer {
  const zip = new AdmZip();
  zip.addFile(
    '_rels/.rels',
    Buffer.from('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>'),
  );
  zip.addFile('word/document.xml', Buffer.from(`<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>${body}</w:body></w:document>`));
  return zip.toBuffer();
}

describe('a parser that fails for a reason of its own, in a real parse process', () => {
  // This pool's parse processes load the faulty parsers first.
  const pool = new ParsePool({ workers: 1, memoryMb: 512, timeoutMs: 20_000 }, ['--require', path.join(__dirname, 'fixtures', 'faulty-parsers.cjs')]);
  afterAll(() => pool.close());

  const documents = (trigger: string): [string, Buffer, string][] => {
    const paragraph = `<w:p><w:r><w:t>A document that says ${trigger} somewhere.</w:t></w:r></w:p>`;
    return [
    ['HTML', Buffer.from(`<p>A page that says ${trigger} somewhere.</p>`), 'text/html'],
    ['DOCX', docx(paragraph), DOCX_MIME],
    ['PDF', writePdf([[{ text: `A PDF that says ${trigger} somewhere.` }]]), 'application/pdf'],
    ];
  };

  async function failure(content: Buffer, mimeType: string): Promise<unknown> {
    try {
      for await (const block of parseDocument(content, mimeType, { pool })) void block;
    } catch (error) {
      return error;
    }
    throw new Error('expected the parse to fail');
  }

  async function stillReads(): Promise<void> {
    for (const [, content, type] of documents('nothing special')) {
      const blocks: Block[] = [];
      for await (const block of parseDocument(content, type, { pool })) blocks.push(block);
      expect(blocks.map((b) => b.text).join(' ')).toContain('nothing special');
    }
  }

  it.each(documents('TRIGGER-TYPEERROR'))('%s: a TypeError is INTERNAL, retriable, not CORRUPT_DOCUMENT', async (_format, content, type) => {
    const error = await failure(content, type);
    expect(error).not.toBeInstanceOf(PermanentError);
    expect((error as Error).name).toBe('TypeError');
    expect(classifyError(error)).toMatchObject({ code: 'INTERNAL', retriable: true, message: "Cannot read properties of undefined (reading 'children')" });
    await stillReads();
  });

  it.each(documents('TRIGGER-CRASH'))('%s: a parse process that crashes is INTERNAL, retriable, and is replaced', async (_format, content, type) => {
    const before = pool.stats();
    const error = await failure(content, type);
    expect(error).toBeInstanceOf(TransientError);
    expect(classifyError(error)).toMatchObject({ code: 'INTERNAL', retriable: true });
    expect((error as Error).message).toMatch(/^a parse process exited \(SIGSEGV\)/);
    // Not counted as killed for a limit.
    expect(pool.stats().killed).toBe(before.killed);
    await stillReads();
  });
});
