import { readFileSync } from 'node:fs';
import path from 'node:path';
import AdmZip from 'adm-zip';
import { BoundedZip, RATIO_GRACE_BYTES, zipEntries } from '../src/zip';
import { errorOf } from './fixtures/errors';
import { deflateRepeated, docxOf, writeZip } from './fixtures/hostile';

const MB = 1_000_000;
const limits = { maxDecompressedBytes: 64 * MB, maxDecompressionRatio: 100 };

describe('BoundedZip', () => {
  it('reads the parts of a real DOCX, counting what they inflate to', () => {
    const docx = readFileSync(path.join(__dirname, 'fixtures', 'guide.docx'));
    const zip = new BoundedZip(docx, limits);
    const entries = zipEntries(docx)!;
    expect(zip.has('word/document.xml')).toBe(true);
    expect(zip.read('word/document.xml').toString('utf8')).toContain('Kayak Field Guide');
    expect(zip.inflated).toBe(entries.find((e) => e.name === 'word/document.xml')!.uncompressedSize);
  });

  it('reads stored entries as they are', () => {
    const zip = new AdmZip();
    zip.addFile('a.txt', Buffer.from('stored'));
    zip.getEntry('a.txt')!.header.method = 0;
    expect(new BoundedZip(zip.toBuffer(), limits).read('a.txt').toString()).toBe('stored');
  });

  it('refuses an entry that says it inflates past the budget, before inflating it', () => {
    const zip = new BoundedZip(docxOf('<w:p/>', 300 * MB), limits);
    const error = errorOf(() => zip.read('word/document.xml'));
    expect(error.code).toBe('PARSE_LIMIT');
    expect(error.message).toBe(
      `the archive inflates to ${300 * MB} bytes by its entry word/document.xml, over the limit of ${64 * MB} bytes (MAX_DECOMPRESSED_BYTES)`,
    );
    expect(error.details).toEqual({ limit: 'MAX_DECOMPRESSED_BYTES', value: 64 * MB });
    expect(zip.inflated).toBe(0);
  });

  it('counts the budget over every entry read', () => {
    const part = deflateRepeated(Buffer.alloc(0), Buffer.from('<w:p>some text</w:p> '), Buffer.alloc(0), 3 * MB);
    const zip = new BoundedZip(writeZip([{ name: 'a.xml', deflated: part }, { name: 'b.xml', deflated: part }]), { ...limits, maxDecompressedBytes: 5 * MB, maxDecompressionRatio: 1000 });
    expect(zip.read('a.xml')).toHaveLength(3 * MB);
    expect(errorOf(() => zip.read('b.xml')).message).toMatch(/^the archive inflates to 6000000 bytes by its entry b\.xml, over the limit of 5000000 bytes/);
  });

  it('refuses an entry that compresses better than the ratio allows, past the grace size', () => {
    const error = errorOf(() => new BoundedZip(docxOf('<w:p/>', 20 * MB), limits).read('word/document.xml'));
    expect(error.code).toBe('PARSE_LIMIT');
    expect(error.message).toMatch(/^the archive's entry word\/document\.xml inflates from \d+ to 20000000 bytes, over the limit of 100 times its compressed size \(MAX_DECOMPRESSION_RATIO\)$/);
    // Small parts compress far better than that and are read.
    expect(new BoundedZip(docxOf('<w:p/>', RATIO_GRACE_BYTES), limits).read('word/document.xml')).toHaveLength(RATIO_GRACE_BYTES);
  });

  it('stops an entry that lies about its size while inflating it, at the limit', () => {
    // It says it inflates to 1 KB; zlib stops it once it passes 100 times its compressed size.
    const lying = new BoundedZip(docxOf('<w:p/>', 300 * MB, { claims: 1000 }), limits);
    const error = errorOf(() => lying.read('word/document.xml'));
    expect(error.code).toBe('PARSE_LIMIT');
    expect(error.message).toMatch(/^the archive's entry word\/document\.xml inflates from \d+ to more than \d+ bytes, over the limit of 100 times/);
    // And at the budget, when the budget is the nearer limit.
    const budget = new BoundedZip(docxOf('<w:p/>', 300 * MB, { claims: 1000 }), { maxDecompressedBytes: 2 * MB, maxDecompressionRatio: 10_000 });
    expect(errorOf(() => budget.read('word/document.xml')).message).toMatch(/^the archive inflates to more than 2000000 bytes by its entry word\/document\.xml, over the limit of 2000000 bytes/);
  });

  it('rejects encrypted entries, other methods and broken data as corrupt', () => {
    const zip = docxOf('<w:p/>', 1000);
    const at = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    const encrypted = Buffer.from(zip);
    encrypted.writeUInt16LE(1, at + 8);
    expect(errorOf(() => new BoundedZip(encrypted, limits).read('[Content_Types].xml'))).toMatchObject({ code: 'CORRUPT_DOCUMENT', message: 'the ZIP entry [Content_Types].xml is encrypted' });
    const bzip2 = Buffer.from(zip);
    bzip2.writeUInt16LE(12, at + 10);
    expect(errorOf(() => new BoundedZip(bzip2, limits).read('[Content_Types].xml')).message).toMatch(/uses compression method 12/);
    const broken = Buffer.from(zip);
    broken.fill(0xff, 40, 60);
    expect(errorOf(() => new BoundedZip(broken, limits).read('[Content_Types].xml')).message).toMatch(/^the ZIP entry \[Content_Types\]\.xml cannot be inflated/);
    expect(errorOf(() => new BoundedZip(zip.subarray(0, 100), limits)).code).toBe('CORRUPT_DOCUMENT');
  });
});
