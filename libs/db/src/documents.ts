import { PermanentError } from '@docintel/core';
import { DOCUMENT_ID_PATTERN, sha256Hex, TENANT_ID_PATTERN } from '@docintel/contracts';
import { toDatabaseError, type Queryable } from './pool';

/** A row of `documents`: what fetch reads to parse and chunk one version. */
export interface Document {
  id: string;
  tenantId: string;
  /** Where it came from (e.g. a file path); unique within the tenant when set. */
  source: string | null;
  title: string;
  mimeType: string;
  /** Bumped by every change of content, mime type or title, and by a delete. */
  version: number;
  content: Buffer;
  /** Hex sha256 of `content`. */
  contentSha256: string;
  deletedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A document without its content, for listings. */
export type DocumentSummary = Omit<Document, 'content'> & {
  /** Length of the content in bytes. */
  size: number;
};

export interface UpsertDocumentInput {
  /** @default for a document with a source: `<tenant>-<24 hex of sha256(tenant \0 source)>`, the same on every call */
  id?: string;
  tenantId: string;
  /** Identifies the document within its tenant when set; without it, `id` must be given. */
  source: string | null;
  /** @default '' */
  title?: string;
  mimeType: string;
  content: Buffer;
  /** A new version even when nothing changed (to send a document through the pipeline again). @default false */
  force?: boolean;
}

export interface UpsertDocumentResult {
  id: string;
  /** The version now stored: the one to name in the `document.ingest` message. */
  version: number;
  /** False when the stored document already had this content, mime type and title. */
  changed: boolean;
}

const SUMMARY_COLUMNS = `id, tenant_id, source, title, mime_type, version, content_sha256, deleted_at, created_at, updated_at`;

interface SummaryRow {
  id: string;
  tenant_id: string;
  source: string | null;
  title: string;
  mime_type: string;
  version: number;
  content_sha256: string;
  deleted_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

function toSummaryFields(row: SummaryRow): Omit<Document, 'content'> {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    source: row.source,
    title: row.title,
    mimeType: row.mime_type,
    version: row.version,
    contentSha256: row.content_sha256,
    deletedAt: row.deleted_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

function toDocument(row: SummaryRow & { content: Buffer }): Document {
  return { ...toSummaryFields(row), content: row.content };
}

/** The id a document with a source gets when the caller names none: stable across calls. */
export function deterministicDocumentId(tenantId: string, source: string): string {
  return `${tenantId}-${sha256Hex(`${tenantId}\0${source}`).slice(0, 24)}`;
}

function checkTenant(tenantId: string): void {
  if (!TENANT_ID_PATTERN.test(tenantId)) {
    throw new PermanentError('INVALID_OPTIONS', `tenant id must be 1-63 of a-z, 0-9, _ and -, got "${tenantId}"`);
  }
}

/**
 * The values a version is derived from. A row that differs in any of them (or is deleted) is
 * replaced and gets a new version; one that matches them all is left alone.
 */
const DIFFERS = `(documents.content_sha256, documents.mime_type, documents.title) IS DISTINCT FROM
  (EXCLUDED.content_sha256, EXCLUDED.mime_type, EXCLUDED.title) OR documents.deleted_at IS NOT NULL`;
const REPLACE = `version = documents.version + 1, content = EXCLUDED.content,
  content_sha256 = EXCLUDED.content_sha256, mime_type = EXCLUDED.mime_type, title = EXCLUDED.title,
  deleted_at = NULL, updated_at = now()`;
const INSERT = `INSERT INTO documents (id, tenant_id, source, title, mime_type, content, content_sha256)
  VALUES ($1, $2, $3, $4, $5, $6, $7)`;

/** How often to retry when concurrent writers keep changing the row between our two statements. */
const MAX_ATTEMPTS = 10;

/**
 * Stores a document, giving it a new version only when something changed.
 *
 * - new (tenant, source), or new id without a source: inserted as version 1, `changed: true`;
 * - same content, mime type and title, not deleted: untouched, `changed: false`;
 * - anything differs, or the document was deleted, or `force`: replaced, version + 1, `deleted_at`
 *   cleared, `changed: true`.
 *
 * A document found by its source keeps the id it has. Safe under concurrency without a transaction
 * (each statement is atomic), so `db` may be a pool or a client in the caller's transaction.
 *
 * @throws PermanentError `INVALID_OPTIONS` for a bad tenant or document id, no id and no source,
 *   or an id already used by another document of the tenant; `TENANT_MISMATCH` for an id that
 *   belongs to another tenant.
 * @throws TransientError `DATABASE_UNAVAILABLE` when the database cannot be reached.
 */
export async function upsertDocument(db: Queryable, input: UpsertDocumentInput): Promise<UpsertDocumentResult> {
  checkTenant(input.tenantId);
  let id = input.id;
  if (id === undefined) {
    if (input.source === null) throw new PermanentError('INVALID_OPTIONS', 'a document needs an id or a source');
    id = deterministicDocumentId(input.tenantId, input.source);
  }
  if (!DOCUMENT_ID_PATTERN.test(id)) {
    throw new PermanentError('INVALID_OPTIONS', `document id must be 1-200 of A-Z, a-z, 0-9, ., _, : and -, got "${id}"`);
  }
  const title = input.title ?? '';
  const sha = sha256Hex(input.content);
  const values = [id, input.tenantId, input.source, title, input.mimeType, input.content, sha];
  try {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      // The update fires only when something differs; another tenant's row with this id is never
      // touched (its WHERE is false) and is reported below.
      const replace = input.force === true ? 'true' : DIFFERS;
      const upsert =
        input.source === null
          ? `${INSERT} ON CONFLICT (id) DO UPDATE SET ${REPLACE}
               WHERE documents.tenant_id = EXCLUDED.tenant_id AND (${replace}) RETURNING id, version`
          : `${INSERT} ON CONFLICT (tenant_id, source) WHERE source IS NOT NULL DO UPDATE SET ${REPLACE}
               WHERE ${replace} RETURNING id, version`;
      const written = await db.query<{ id: string; version: number }>(upsert, values).catch(async (error: unknown) => {
        if ((error as { constraint?: unknown }).constraint === 'documents_pkey') await rejectTakenId(db, id, input.tenantId);
        throw error;
      });
      const row = written.rows[0];
      if (row) return { id: row.id, version: row.version, changed: true };

      // Nothing written: the stored row matched. Read it to report its version; if it no longer
      // matches, a concurrent writer changed it in between, so try again.
      const current =
        input.source === null
          ? await findRow(db, 'id = $1', [id])
          : await findRow(db, 'tenant_id = $1 AND source = $2', [input.tenantId, input.source]);
      if (current && current.tenant_id !== input.tenantId) await rejectTakenId(db, id, input.tenantId);
      if (current && current.content_sha256 === sha && current.mime_type === input.mimeType && current.title === title && current.deleted_at === null) {
        return { id: current.id, version: current.version, changed: false };
      }
    }
  } catch (error) {
    throw toDatabaseError(error, `storing document ${id}`);
  }
  throw new Error(`document ${id} kept changing under ${MAX_ATTEMPTS} attempts to store it`);
}

async function findRow(db: Queryable, where: string, values: unknown[]): Promise<SummaryRow | undefined> {
  const result = await db.query<SummaryRow>(`SELECT ${SUMMARY_COLUMNS} FROM documents WHERE ${where}`, values);
  return result.rows[0];
}

/** Explains a primary-key conflict: the id names a document other than the one being stored. */
async function rejectTakenId(db: Queryable, id: string, tenantId: string): Promise<never> {
  const owner = await findRow(db, 'id = $1', [id]);
  if (owner && owner.tenant_id !== tenantId) {
    throw new PermanentError('TENANT_MISMATCH', `document id "${id}" belongs to another tenant`);
  }
  throw new PermanentError('INVALID_OPTIONS', `document id "${id}" is already used by another document of tenant "${tenantId}"`);
}

/**
 * The document with this id, with its content, deleted or not; `undefined` if there is none. The
 * caller checks that it belongs to the tenant it expects.
 */
export async function getDocument(db: Queryable, id: string): Promise<Document | undefined> {
  try {
    const result = await db.query<SummaryRow & { content: Buffer }>(`SELECT ${SUMMARY_COLUMNS}, content FROM documents WHERE id = $1`, [id]);
    const row = result.rows[0];
    return row && toDocument(row);
  } catch (error) {
    throw toDatabaseError(error, `reading document ${id}`);
  }
}

/** A document read to be parsed: its fields and size, and its content when that is within the reader's limit. */
export interface SizedDocument extends DocumentSummary {
  /** The content; `undefined` when it is larger than the limit it was read with, and was never read. */
  content: Buffer | undefined;
}

/**
 * Bytes of content per query. The driver receives bytea as hex text, twice the bytes, and holds
 * a whole result before it parses it: slices keep that to a few MB whatever the document's size.
 */
export const CONTENT_SLICE_BYTES = 8 * 1024 * 1024;

/**
 * The document with this id, deleted or not, its size read first: its content is read only when
 * it is at most `maxContentBytes`, in slices of {@link CONTENT_SLICE_BYTES}, so an oversized row
 * never reaches the driver at all. The slices are read from the version whose size was read; when
 * the row changes in between, it is read again. `undefined` if there is none. The caller checks
 * that it belongs to the tenant it expects.
 *
 * @throws TransientError `DATABASE_UNAVAILABLE` when the database cannot be reached.
 */
export async function readDocument(db: Queryable, id: string, options: { maxContentBytes: number }): Promise<SizedDocument | undefined> {
  try {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const result = await db.query<SummaryRow & { size: number }>(`SELECT ${SUMMARY_COLUMNS}, octet_length(content) AS size FROM documents WHERE id = $1`, [id]);
      const row = result.rows[0];
      if (!row) return undefined;
      const document = { ...toSummaryFields(row), size: row.size };
      if (row.size > options.maxContentBytes) return { ...document, content: undefined };
      const content = await readContent(db, id, row.version, row.size);
      if (content) return { ...document, content };
    }
  } catch (error) {
    throw toDatabaseError(error, `reading document ${id}`);
  }
  throw new Error(`document ${id} kept changing under ${MAX_ATTEMPTS} attempts to read it`);
}

/** The content of version `version`, slice by slice; `undefined` when the row changed meanwhile. */
async function readContent(db: Queryable, id: string, version: number, size: number): Promise<Buffer | undefined> {
  const content = Buffer.allocUnsafe(size);
  for (let offset = 0; offset < size; offset += CONTENT_SLICE_BYTES) {
    const result = await db.query<{ part: Buffer }>(`SELECT substring(content FROM $2 FOR $3) AS part FROM documents WHERE id = $1 AND version = $4`, [
      id,
      offset + 1,
      CONTENT_SLICE_BYTES,
      version,
    ]);
    const part = result.rows[0]?.part;
    if (part === undefined || part.length !== Math.min(CONTENT_SLICE_BYTES, size - offset)) return undefined;
    part.copy(content, offset);
  }
  return content;
}

/** The tenant's document from `source`, with its content; `undefined` if there is none. */
export async function findDocumentBySource(db: Queryable, tenantId: string, source: string): Promise<Document | undefined> {
  try {
    const result = await db.query<SummaryRow & { content: Buffer }>(
      `SELECT ${SUMMARY_COLUMNS}, content FROM documents WHERE tenant_id = $1 AND source = $2`,
      [tenantId, source],
    );
    const row = result.rows[0];
    return row && toDocument(row);
  } catch (error) {
    throw toDatabaseError(error, `finding a document of tenant ${tenantId} by source`);
  }
}

/**
 * Marks the tenant's document deleted. The delete is a version of its own (version + 1), so the
 * pipeline orders it after every earlier upsert. Deleting a deleted document changes nothing and
 * returns its version again, so a replayed delete names the same version.
 *
 * @returns the delete's version, or `undefined` when the tenant has no document with this id
 *   (including when another tenant has).
 */
export async function markDeleted(db: Queryable, tenantId: string, id: string): Promise<{ version: number } | undefined> {
  try {
    const result = await db.query<{ version: number }>(
      `UPDATE documents
          SET version = CASE WHEN deleted_at IS NULL THEN version + 1 ELSE version END,
              updated_at = CASE WHEN deleted_at IS NULL THEN now() ELSE updated_at END,
              deleted_at = coalesce(deleted_at, now())
        WHERE tenant_id = $1 AND id = $2
        RETURNING version`,
      [tenantId, id],
    );
    const row = result.rows[0];
    return row && { version: row.version };
  } catch (error) {
    throw toDatabaseError(error, `deleting document ${id}`);
  }
}

/** Every document (of `tenantId`, when given), deleted ones included, without content; by tenant and id. */
export async function listDocuments(db: Queryable, tenantId?: string): Promise<DocumentSummary[]> {
  try {
    const result = await db.query<SummaryRow & { size: number }>(
      `SELECT ${SUMMARY_COLUMNS}, octet_length(content) AS size FROM documents
        WHERE $1::text IS NULL OR tenant_id = $1 ORDER BY tenant_id, id`,
      [tenantId ?? null],
    );
    return result.rows.map((row) => ({ ...toSummaryFields(row), size: row.size }));
  } catch (error) {
    throw toDatabaseError(error, 'listing documents');
  }
}
