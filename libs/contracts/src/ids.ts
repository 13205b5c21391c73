import { createHash } from 'node:crypto';

/**
 * Tenant ids name namespaces (a LanceDB table, a Pinecone namespace), so they are kept to a
 * portable alphabet. Document ids appear inside vector ids, so they may not contain `#`.
 */
export const TENANT_ID_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;
export const DOCUMENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$/;

/** `<document id>#<version>#<chunk index>`: replaying any message writes the same ids. */
export function vectorId(documentId: string, version: number, chunkIndex: number): string {
  return `${documentId}#${version}#${chunkIndex}`;
}

/** The prefix shared by every vector of one document (for prefix listing in Pinecone). */
export function documentVectorPrefix(documentId: string): string {
  return `${documentId}#`;
}

export function parseVectorId(id: string): { documentId: string; version: number; chunkIndex: number } {
  const match = /^(.+)#(\d+)#(\d+)$/.exec(id);
  if (!match) throw new Error(`not a vector id: ${id}`);
  return { documentId: match[1]!, version: Number(match[2]), chunkIndex: Number(match[3]) };
}

/** sha256 of a chunk's text: with the model and dimension it identifies the chunk's vector. */
export function contentHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Vectors travel as base64 of little-endian float32: exact, and a third of the size of JSON numbers. */
export function encodeVector(vector: ArrayLike<number>): string {
  const floats = vector instanceof Float32Array ? vector : Float32Array.from(vector);
  return Buffer.from(floats.buffer, floats.byteOffset, floats.byteLength).toString('base64');
}

export function decodeVector(encoded: string): Float32Array {
  const bytes = Buffer.from(encoded, 'base64');
  if (bytes.byteLength % 4 !== 0) throw new Error('vector is not a whole number of float32 values');
  const copy = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(copy).set(bytes);
  return new Float32Array(copy);
}
