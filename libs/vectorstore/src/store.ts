import { PermanentError } from '@docintel/core';

/** What a stored chunk carries and a search result shows. */
export interface ChunkFields {
  /** Derived from (documentId, version, chunkIndex); a second upsert of the same id replaces the first. */
  id: string;
  documentId: string;
  version: number;
  chunkIndex: number;
  text: string;
  title: string;
  /** 1-based page the chunk starts on, for documents with pages (PDF). */
  page?: number;
  /** 1-based page the chunk ends on; set with `page`. */
  pageEnd?: number;
  /** Titles of the headings the chunk is under, outermost first; absent or empty when it is under none. */
  headingPath?: string[];
}

/** One chunk's vector with what a search result needs to show, in a tenant's namespace. */
export interface VectorRecord extends ChunkFields {
  contentHash: string;
  vector: Float32Array;
}

/** A search hit; page and headings are absent when the chunk had none or the backend keeps none. */
export interface VectorMatch extends ChunkFields {
  /** higher is better; cosine similarity */
  score: number;
}

/** The port every vector backend implements. A namespace is a tenant id. */
export interface VectorStore {
  /** Insert or replace by id, in the tenant's namespace. Idempotent. Rejects vectors of the wrong dimension with PermanentError('DIMENSION_MISMATCH', ...) naming both dimensions. */
  upsert(namespace: string, records: VectorRecord[]): Promise<void>;
  /** Delete every vector of the document whose version is < beforeVersion (omit beforeVersion: every version). Returns how many were deleted if the backend knows, else undefined. */
  deleteDocument(namespace: string, documentId: string, beforeVersion?: number): Promise<number | undefined>;
  /** The `topK` vectors nearest to `vector` in the namespace, best first. */
  query(namespace: string, vector: Float32Array, topK: number): Promise<VectorMatch[]>;
  /** Every vector id in the namespace (optionally of one document): for tests and the CLI. */
  listIds(namespace: string, documentId?: string): Promise<string[]>;
  /** Namespaces (tenants) that hold vectors. */
  listNamespaces(): Promise<string[]>;
  /** Finishes pending writes and releases the backend. Idempotent. */
  close(): Promise<void>;
}

/** What a namespace (a tenant id) must look like; it also becomes a table or namespace name in the backend. */
export const NAMESPACE_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** Throws PermanentError('INVALID_OPTIONS') unless `namespace` matches {@link NAMESPACE_PATTERN}. */
export function assertNamespace(namespace: string): void {
  if (typeof namespace !== 'string' || !NAMESPACE_PATTERN.test(namespace)) {
    throw new PermanentError('INVALID_OPTIONS', `invalid vector namespace ${JSON.stringify(namespace)}: must match ${String(NAMESPACE_PATTERN)}`);
  }
}

/**
 * Checks what every backend needs of a batch before writing any of it: vectors of the store's
 * dimension with finite values, integer versions and chunk indexes, non-empty ids.
 */
export function assertRecords(records: VectorRecord[], dimension: number): void {
  for (const record of records) {
    if (!(record.vector instanceof Float32Array) || record.vector.length !== dimension) {
      const got = record.vector instanceof Float32Array ? `dimension ${record.vector.length}` : 'no Float32Array';
      throw new PermanentError('DIMENSION_MISMATCH', `vector ${record.id} has ${got}; the store expects dimension ${dimension}`);
    }
    if (!record.vector.every(Number.isFinite)) {
      throw new PermanentError('INVALID_OPTIONS', `vector ${record.id} holds a value that is not a finite number`);
    }
    if (typeof record.id !== 'string' || record.id === '' || typeof record.documentId !== 'string' || record.documentId === '') {
      throw new PermanentError('INVALID_OPTIONS', `vector record ${JSON.stringify(record.id)} needs a non-empty id and documentId`);
    }
    if (!isInt32(record.version) || !isInt32(record.chunkIndex)) {
      throw new PermanentError('INVALID_OPTIONS', `vector ${record.id} needs integer version and chunkIndex, got ${record.version} and ${record.chunkIndex}`);
    }
    for (const [field, value] of [['page', record.page], ['pageEnd', record.pageEnd]] as const) {
      if (value !== undefined && (!isInt32(value) || value < 1)) {
        throw new PermanentError('INVALID_OPTIONS', `vector ${record.id} needs a positive integer ${field} when it has one, got ${String(value)}`);
      }
    }
    if (record.headingPath !== undefined && !(Array.isArray(record.headingPath) && record.headingPath.every((title) => typeof title === 'string'))) {
      throw new PermanentError('INVALID_OPTIONS', `vector ${record.id} needs headingPath to be a list of strings when it has one`);
    }
  }
}

/** Throws DIMENSION_MISMATCH unless a query vector has the store's dimension. */
export function assertQueryVector(vector: Float32Array, dimension: number): void {
  if (!(vector instanceof Float32Array) || vector.length !== dimension) {
    const got = vector instanceof Float32Array ? `dimension ${vector.length}` : 'no Float32Array';
    throw new PermanentError('DIMENSION_MISMATCH', `query vector has ${got}; the store expects dimension ${dimension}`);
  }
}

function isInt32(value: number): boolean {
  return Number.isInteger(value) && value >= 0 && value <= 0x7fffffff;
}

/**
 * Checks an upsert's namespace and records, and keeps the last record of each id (as a second
 * upsert of it would); every backend's upsert starts here.
 */
export function uniqueRecords(namespace: string, records: VectorRecord[], dimension: number): VectorRecord[] {
  assertNamespace(namespace);
  assertRecords(records, dimension);
  return [...new Map(records.map((record) => [record.id, record])).values()];
}
