import { inflateRawSync } from 'node:zlib';
import { PermanentError } from '@docintel/core';
import { parseLimit } from './limits';

/** One file of a ZIP archive, as its central directory describes it. */
export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated. */
  method: number;
  /** General purpose flags; bit 0: encrypted. */
  flags: number;
  compressedSize: number;
  /** What the archive says the entry inflates to: a claim, checked while inflating. */
  uncompressedSize: number;
  localHeaderOffset: number;
}

/**
 * The entries of a ZIP archive, read from its central directory without unpacking anything;
 * undefined when the directory cannot be found or read (a truncated archive, or ZIP64, which no
 * DOCX within the size limit needs).
 */
export function zipEntries(zip: Buffer): ZipEntry[] | undefined {
  // The end-of-central-directory record: 22 bytes plus a comment of up to 65,535 bytes.
  const END = 0x06054b50;
  const ENTRY = 0x02014b50;
  let end = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 0xffff); i--) {
    if (zip.readUInt32LE(i) === END) {
      end = i;
      break;
    }
  }
  if (end < 0) return undefined;
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  if (count === 0xffff || at === 0xffffffff) return undefined;
  const entries: ZipEntry[] = [];
  for (let n = 0; n < count; n++) {
    if (at + 46 > zip.length || zip.readUInt32LE(at) !== ENTRY) return undefined;
    const nameLength = zip.readUInt16LE(at + 28);
    entries.push({
      name: zip.toString('utf8', at + 46, at + 46 + nameLength),
      flags: zip.readUInt16LE(at + 8),
      method: zip.readUInt16LE(at + 10),
      compressedSize: zip.readUInt32LE(at + 20),
      uncompressedSize: zip.readUInt32LE(at + 24),
      localHeaderOffset: zip.readUInt32LE(at + 42),
    });
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return entries;
}

export interface InflateLimits {
  /** Bytes all the entries read from one archive may inflate to, together. */
  maxDecompressedBytes: number;
  /** Largest inflated size of an entry as a multiple of its compressed size (past {@link RATIO_GRACE_BYTES}). */
  maxDecompressionRatio: number;
}

/**
 * An entry may inflate to this many bytes whatever its ratio: small parts (styles, settings) of
 * a few hundred bytes often compress far better than 100 to 1 and threaten nothing.
 */
export const RATIO_GRACE_BYTES = 1024 * 1024;

/**
 * Reads the entries of one ZIP archive within a budget of inflated bytes and a largest
 * compression ratio. Both are checked against what the archive claims before an entry is
 * inflated, and counted while it is (zlib stops at the allowed length), so an archive that lies
 * about its sizes is stopped as early as an honest one.
 */
export class BoundedZip {
  readonly #zip: Buffer;
  readonly #limits: InflateLimits;
  readonly #entries: Map<string, ZipEntry>;
  #inflated = 0;

  /** @throws PermanentError CORRUPT_DOCUMENT when the directory cannot be read */
  constructor(zip: Buffer, limits: InflateLimits) {
    const entries = zipEntries(zip);
    if (entries === undefined) throw new PermanentError('CORRUPT_DOCUMENT', 'content is a ZIP archive whose directory cannot be read (truncated?)');
    this.#zip = zip;
    this.#limits = limits;
    this.#entries = new Map(entries.map((entry) => [entry.name, entry]));
  }

  /** Bytes inflated so far. */
  get inflated(): number {
    return this.#inflated;
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /**
   * The inflated bytes of `name`.
   *
   * @throws PermanentError PARSE_LIMIT (the entry would pass the budget or the ratio),
   *   CORRUPT_DOCUMENT (missing, encrypted, an unknown method, broken data)
   */
  read(name: string): Buffer {
    const entry = this.#entries.get(name);
    if (entry === undefined) throw new PermanentError('CORRUPT_DOCUMENT', `the ZIP archive has no entry ${name}`);
    if ((entry.flags & 1) !== 0) throw new PermanentError('CORRUPT_DOCUMENT', `the ZIP entry ${name} is encrypted`);
    const { maxDecompressedBytes, maxDecompressionRatio } = this.#limits;
    const budget = maxDecompressedBytes - this.#inflated;
    const byRatio = Math.max(RATIO_GRACE_BYTES, entry.compressedSize * maxDecompressionRatio);
    const overBudget = (size: string) =>
      parseLimit('MAX_DECOMPRESSED_BYTES', maxDecompressedBytes, `the archive inflates to ${size} bytes by its entry ${name}, over the limit of ${maxDecompressedBytes} bytes (MAX_DECOMPRESSED_BYTES)`);
    const overRatio = (size: string) =>
      parseLimit(
        'MAX_DECOMPRESSION_RATIO',
        maxDecompressionRatio,
        `the archive's entry ${name} inflates from ${entry.compressedSize} to ${size} bytes, over the limit of ${maxDecompressionRatio} times its compressed size (MAX_DECOMPRESSION_RATIO)`,
      );
    // What the archive claims, before anything is inflated.
    if (entry.uncompressedSize > budget) throw overBudget(String(this.#inflated + entry.uncompressedSize));
    if (entry.uncompressedSize > byRatio) throw overRatio(String(entry.uncompressedSize));

    const local = entry.localHeaderOffset;
    if (local + 30 > this.#zip.length || this.#zip.readUInt32LE(local) !== 0x04034b50) {
      throw new PermanentError('CORRUPT_DOCUMENT', `the ZIP entry ${name} has no local header where the directory says`);
    }
    const start = local + 30 + this.#zip.readUInt16LE(local + 26) + this.#zip.readUInt16LE(local + 28);
    const data = this.#zip.subarray(start, start + entry.compressedSize);
    if (data.length < entry.compressedSize) throw new PermanentError('CORRUPT_DOCUMENT', `the ZIP entry ${name} is truncated`);
    let out: Buffer;
    if (entry.method === 0) {
      out = data;
    } else if (entry.method === 8) {
      // What the entry really inflates to is counted by zlib itself: it stops one byte past the
      // allowed length, so a lying header costs that much memory and no more.
      const allowed = Math.min(budget, byRatio);
      try {
        out = inflateRawSync(data, { maxOutputLength: allowed + 1 });
      } catch (error) {
        if ((error as { code?: unknown }).code !== 'ERR_BUFFER_TOO_LARGE') {
          throw new PermanentError('CORRUPT_DOCUMENT', `the ZIP entry ${name} cannot be inflated: ${(error as Error).message}`, { cause: error });
        }
        throw allowed === budget ? overBudget(`more than ${this.#inflated + allowed}`) : overRatio(`more than ${allowed}`);
      }
      if (out.length > allowed) throw allowed === budget ? overBudget(`more than ${this.#inflated + allowed}`) : overRatio(`more than ${allowed}`);
    } else {
      throw new PermanentError('CORRUPT_DOCUMENT', `the ZIP entry ${name} uses compression method ${entry.method}, which DOCX does not`);
    }
    this.#inflated += out.length;
    return out;
  }
}
