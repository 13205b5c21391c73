import { PermanentError } from '@docintel/core';
import type { VectorMatch, VectorRecord } from './store';

/** A metadata value Pinecone stores. */
export type PineconeMetadataValue = string | number | boolean | string[];
export type PineconeMetadata = Record<string, PineconeMetadataValue>;

/** One record as the SDK sends it; built in the SDK's key order so its JSON size is ours. */
export interface PineconeVector {
  id: string;
  values: number[];
  metadata: PineconeMetadata;
}

/** The metadata flag set on a record whose text was trimmed to fit the metadata limit. */
export const TEXT_TRUNCATED = 'textTruncated';

const jsonBytes = (value: unknown): number => Buffer.byteLength(JSON.stringify(value));

/**
 * Every field of the record but its id and vector, so fields added to {@link VectorRecord} later
 * (page, headings, ...) are stored without a change here. Pinecone takes strings, finite numbers,
 * booleans and lists of strings; anything else is stored as its JSON text rather than dropped.
 */
export function metadataOf(record: VectorRecord): PineconeMetadata {
  const metadata: PineconeMetadata = {};
  for (const [key, value] of Object.entries(record)) {
    if (key === 'id' || key === 'vector' || value === undefined || value === null) continue;
    if (typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) {
      metadata[key] = value;
    } else if (Array.isArray(value) && value.every((item) => typeof item === 'string')) {
      metadata[key] = value;
    } else {
      metadata[key] = JSON.stringify(value);
    }
  }
  return metadata;
}

/** The first `length` code units of `text`, one fewer if that would split a surrogate pair. */
function prefix(text: string, length: number): string {
  const last = text.charCodeAt(length - 1);
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? length - 1 : length);
}

/**
 * Makes `metadata` fit `limitBytes` (its JSON size, as Pinecone counts it) by trimming its `text`
 * to the longest prefix that fits and setting {@link TEXT_TRUNCATED}. Returns undefined when it
 * fits as it is. Metadata too large even without its text is rejected, never stored partly.
 */
export function fitMetadata(id: string, metadata: PineconeMetadata, limitBytes: number): PineconeMetadata | undefined {
  if (jsonBytes(metadata) <= limitBytes) return undefined;
  const text = typeof metadata.text === 'string' ? metadata.text : '';
  const trimmed: PineconeMetadata = { ...metadata, text: '', [TEXT_TRUNCATED]: true };
  // The empty text's two quotes are counted in `rest`; a prefix's JSON brings its own.
  const rest = jsonBytes(trimmed) - 2;
  if (rest + 2 > limitBytes) {
    throw new PermanentError('INVALID_OPTIONS', `metadata of vector ${id} takes ${rest + 2} bytes even without its text; Pinecone takes at most ${limitBytes} per vector`);
  }
  // Binary search on the prefix length: JSON escapes and UTF-8 make bytes per character vary.
  let low = 0;
  let high = text.length;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (rest + jsonBytes(prefix(text, middle)) <= limitBytes) low = middle;
    else high = middle - 1;
  }
  trimmed.text = prefix(text, low);
  return trimmed;
}

/**
 * Splits `vectors` into upsert requests of at most `maxRecords` records and `maxBytes` of JSON
 * body each, in order. A record larger than a request on its own is rejected.
 */
export function upsertBatches(namespace: string, vectors: PineconeVector[], maxRecords: number, maxBytes: number): PineconeVector[][] {
  // {"vectors":[...],"namespace":"<namespace>"}
  const envelope = jsonBytes({ vectors: [], namespace });
  const batches: PineconeVector[][] = [];
  let batch: PineconeVector[] = [];
  let bytes = envelope;
  for (const vector of vectors) {
    const size = jsonBytes(vector);
    if (envelope + size > maxBytes) {
      throw new PermanentError('INVALID_OPTIONS', `vector ${vector.id} takes ${size} bytes as JSON; a Pinecone upsert request takes at most ${maxBytes}`);
    }
    if (batch.length === maxRecords || (batch.length > 0 && bytes + 1 + size > maxBytes)) {
      batches.push(batch);
      batch = [];
      bytes = envelope;
    }
    bytes += (batch.length === 0 ? 0 : 1) + size;
    batch.push(vector);
  }
  if (batch.length > 0) batches.push(batch);
  return batches;
}

/**
 * The version of a vector id `<documentId>#<version>#<chunkIndex>` of `documentId`, or undefined
 * for an id of another shape, such as one of document `<documentId>#1`, which shares the prefix.
 */
export function versionOf(id: string, documentId: string): number | undefined {
  const match = /^(\d+)#(\d+)$/.exec(id.slice(documentId.length + 1));
  return id.startsWith(`${documentId}#`) && match !== null ? Number(match[1]) : undefined;
}

/** A query match back as a {@link VectorMatch}; metadata fields beyond the known ones come along. */
export function matchOf(id: string, score: number | undefined, metadata: Record<string, unknown> | undefined): VectorMatch {
  const { documentId, version, chunkIndex, text, title, contentHash: _hash, [TEXT_TRUNCATED]: _truncated, ...extra } = metadata ?? {};
  return {
    ...extra,
    id,
    documentId: typeof documentId === 'string' ? documentId : '',
    version: typeof version === 'number' ? version : 0,
    chunkIndex: typeof chunkIndex === 'number' ? chunkIndex : 0,
    text: typeof text === 'string' ? text : '',
    title: typeof title === 'string' ? title : '',
    score: score ?? 0,
  };
}
