import { PermanentError } from '@docintel/core';

/**
 * What one document may cost fetch. The size of the stored content is checked before it is read
 * (MAX_DOCUMENT_BYTES); these bound what parsing makes of it. Every limit fails the document, never
 * the process: PARSE_LIMIT, with a message that names the limit and its value.
 */
export interface DocumentLimits {
  /** Characters of text a document may give, every format. @default 64 Mi */
  maxExtractedChars: number;
  /** Bytes the entries of a DOCX read while parsing it may inflate to, together. @default 128 MiB */
  maxDecompressedBytes: number;
  /** Largest inflated size of a DOCX entry as a multiple of its compressed size (entries past 1 MiB). @default 100 */
  maxDecompressionRatio: number;
}

/**
 * The parse processes (parse-pool.ts) that read PDF, DOCX and HTML: each runs one document at a
 * time under a memory and a time limit, and is killed and replaced when it passes one.
 */
export interface ParsePoolOptions {
  /** Parse processes at most, shared by every partition the service consumes. @default 2 */
  workers: number;
  /**
   * Memory a parse process may use, in MB: its resident set (sampled every 50 ms, native
   * allocations included) and its V8 heap limit. An idle process takes about 110 MB of it. @default 512
   */
  memoryMb: number;
  /**
   * Time a parse process may work on one document, in ms: from the document's start to its last
   * blocks, less the time it waits for fetch to take blocks it has ready. @default 30000
   */
  timeoutMs: number;
}

export const DEFAULT_DOCUMENT_LIMITS: Readonly<DocumentLimits> = {
  maxExtractedChars: 64 * 1024 * 1024,
  maxDecompressedBytes: 128 * 1024 * 1024,
  maxDecompressionRatio: 100,
};

export const DEFAULT_PARSE_POOL: Readonly<ParsePoolOptions> = { workers: 2, memoryMb: 512, timeoutMs: 30_000 };

/**
 * What V8 and Node throw when an allocation fails near a process's memory limit (a buffer, or a
 * string or array past its largest length): the memory limit, not a broken document. Parsers
 * must let these through rather than report the document corrupt.
 */
export const OUT_OF_MEMORY = /allocation failed|Invalid (?:string|array|typed array) length|out of memory/i;

/** A limit passed: the document fails for good, naming the limit (its variable) and its value. */
export function parseLimit(variable: string, value: number, message: string): PermanentError {
  return new PermanentError('PARSE_LIMIT', message, { details: { limit: variable, value } });
}

/** The size check that needs no parsing, for stored content of `bytes` against `limit`. */
export function documentTooLarge(bytes: number, limit: number): PermanentError {
  return new PermanentError('DOCUMENT_TOO_LARGE', `document is ${bytes} bytes, over the limit of ${limit} bytes`, { details: { limit: 'MAX_DOCUMENT_BYTES', value: limit } });
}

/** A document's text passed `maxChars`. */
export function extractedTooMuch(maxChars: number): PermanentError {
  return parseLimit('MAX_EXTRACTED_CHARS', maxChars, `the document's text is over the limit of ${maxChars} characters (MAX_EXTRACTED_CHARS)`);
}
