import { z } from 'zod';
import { DOCUMENT_ID_PATTERN, TENANT_ID_PATTERN } from './ids';

/**
 * Message values, version 1 (header `schema-version: 1`). Each consumer validates what it reads
 * against these; a value that does not match goes straight to the DLQ with the zod issues as reason.
 */
const tenantId = z.string().regex(TENANT_ID_PATTERN, 'tenant id must be 1-63 of a-z, 0-9, _ and -, starting with a letter or digit');
const documentId = z.string().regex(DOCUMENT_ID_PATTERN, 'document id must be 1-200 of A-Z, a-z, 0-9, ., _, : and -');

/**
 * The largest value of a PostgreSQL `integer` column, where versions, indexes, counts and pages are
 * stored: a larger number passes JSON but not the database, so the schemas stop it at the edge.
 */
export const MAX_STORED_INTEGER = 2_147_483_647;

/** An integer from `min` that a PostgreSQL `integer` column holds. */
function storedInteger(min: number) {
  return z.number().int().min(min).max(MAX_STORED_INTEGER, `must be at most ${MAX_STORED_INTEGER} (what the database stores)`);
}

const version = storedInteger(1);

/** How fetch cuts a document: by structure (`recursive`) or in windows of whole words (`fixed`). */
export const CHUNK_STRATEGIES = ['fixed', 'recursive'] as const;
export type ChunkStrategy = (typeof CHUNK_STRATEGIES)[number];

/**
 * A tenant's chunking request, each field optional (fetch's configuration fills in the rest).
 * Sizes are in tokens, approximated as 4 characters of Latin-script text or 1 CJK character per
 * token (services/fetch/src/tokens.ts). The bounds are those of the first release of version 1,
 * which counted characters; they are kept so that every value valid then is valid now.
 */
export const chunkingOptionsSchema = z
  .object({
    /** `recursive` (default): headings, then paragraphs, then sentences, within the size; `fixed`: windows of `size` tokens sliding by `size - overlap`. */
    strategy: z.enum(CHUNK_STRATEGIES).optional(),
    /** Largest chunk, in tokens. */
    size: z.number().int().min(16).max(20_000).optional(),
    /** Tokens shared by neighbouring chunks; smaller than size, and at most half of it with `fixed`. */
    overlap: z.number().int().min(0).max(10_000).optional(),
  })
  .refine((o) => o.size === undefined || o.overlap === undefined || o.overlap < o.size, {
    message: 'must be smaller than chunking.size',
    path: ['overlap'],
  })
  .refine((o) => o.strategy !== 'fixed' || o.size === undefined || o.overlap === undefined || o.overlap <= o.size / 2, {
    message: 'must be at most half of chunking.size with the fixed strategy',
    path: ['overlap'],
  });

/** `document.ingest`: produced by tenants' applications and the CLI. */
export const ingestRequestSchema = z.object({
  tenantId,
  documentId,
  version,
  op: z.enum(['upsert', 'delete']).default('upsert'),
  chunking: chunkingOptionsSchema.optional(),
});

/** Bounds of the heading path a chunk carries (fetch cuts longer ones to fit). */
export const MAX_HEADING_DEPTH = 16;
export const MAX_HEADING_CHARS = 500;

const page = storedInteger(1);

const chunkFields = {
  index: storedInteger(0),
  text: z.string().min(1),
  /** sha256 of text. */
  hash: z.string().regex(/^[0-9a-f]{64}$/),
  /** Titles of the headings the chunk is under, outermost first; absent before the first heading and from older producers. */
  headingPath: z.array(z.string().min(1).max(MAX_HEADING_CHARS)).min(1).max(MAX_HEADING_DEPTH).optional(),
  /** 1-based page the chunk starts on, for formats with pages (PDF). */
  page: page.optional(),
  /** 1-based page the chunk ends on; set with page. */
  pageEnd: page.optional(),
};

/** A chunk's pages run forwards, and an end page comes with a start page. */
function pagesInOrder(c: { page?: number | undefined; pageEnd?: number | undefined }): boolean {
  return c.pageEnd === undefined || (c.page !== undefined && c.pageEnd >= c.page);
}
const pagesInOrderError = { message: 'needs page and must not be before it', path: ['pageEnd'] };

const chunkSchema = z.object(chunkFields).refine(pagesInOrder, pagesInOrderError);

const upsertBatchFields = {
  tenantId,
  documentId,
  version,
  op: z.literal('upsert'),
  title: z.string(),
  mimeType: z.string(),
  /** 0-based position of this batch among the document version's batches. */
  batchIndex: storedInteger(0),
  /** Set on the last batch, with the totals (fetch learns them only at the end of a stream). */
  totalBatches: storedInteger(1).optional(),
  totalChunks: storedInteger(1).optional(),
};

const deleteFields = { tenantId, documentId, version, op: z.literal('delete') };

/** `document.chunks`: one batch of chunks of one document version, or a delete passed along. */
export const chunkBatchSchema = z.discriminatedUnion('op', [
  z.object({ ...upsertBatchFields, chunks: z.array(chunkSchema).min(1) }),
  z.object(deleteFields),
]);

/** `document.vectors`: the same batch with a vector per chunk. */
export const vectorBatchSchema = z.discriminatedUnion('op', [
  z.object({
    ...upsertBatchFields,
    model: z.string().min(1),
    dimension: storedInteger(1),
    chunks: z.array(z.object({ ...chunkFields, vector: z.string().min(1) }).refine(pagesInOrder, pagesInOrderError)).min(1),
  }),
  z.object(deleteFields),
]);

export const DOCUMENT_STATES = ['queued', 'fetching', 'chunked', 'embedding', 'storing', 'completed', 'failed', 'deleted'] as const;
export type DocumentState = (typeof DOCUMENT_STATES)[number];
export const STAGES = ['ingest', 'fetch', 'embed', 'store'] as const;
export type Stage = (typeof STAGES)[number];

/** The latest time an event may name, in epoch ms: JavaScript's last date, which PostgreSQL's timestamps hold too. */
export const MAX_TIME_MS = 8_640_000_000_000_000;

/** `document.status`: one stage event; the status service folds them into one row per version. */
export const statusEventSchema = z
  .object({
    tenantId,
    documentId,
    /** The version the event is about; left out only with `rejected`, when the message's own version could not be read. */
    version: version.optional(),
    state: z.enum(DOCUMENT_STATES),
    stage: z.enum(STAGES),
    /** Epoch milliseconds at the producer. */
    at: z.number().int(),
    /** For per-batch events: the batch that reached `state`, and its number of chunks. */
    batch: z.object({ index: storedInteger(0), chunks: storedInteger(0) }).optional(),
    totalBatches: storedInteger(0).optional(),
    totalChunks: storedInteger(0).optional(),
    /**
     * On fetch's `chunked` event: chunks too small to stand alone that were merged into a
     * neighbour, and junk chunks (page numbers, no letters or digits) that were left out.
     */
    chunksMerged: storedInteger(0).optional(),
    chunksDropped: storedInteger(0).optional(),
    error: z.object({ code: z.string(), message: z.string() }).optional(),
    /** Set when the event was caused by a replayed message, which may revive a failed version. */
    replayed: z.boolean().optional(),
    /** Set while the version waits on something other than work (e.g. its tenant's daily budget). */
    waiting: z.object({ reason: z.string(), until: z.number().int().min(0).max(MAX_TIME_MS).optional() }).optional(),
    /**
     * Set on the `failed` event of a message that did not pass validation: its ids were read
     * leniently from the raw value, so the status service writes it only for a document of that
     * tenant that exists, and attaches it to the document row's version when the message's own
     * version is missing, invalid, or beyond the row's.
     */
    rejected: z.literal(true).optional(),
  })
  .refine((event) => event.version !== undefined || event.rejected === true, {
    message: 'required (only the event of a rejected message may leave it out)',
    path: ['version'],
  });

export type ChunkingOptions = z.infer<typeof chunkingOptionsSchema>;
export type IngestRequest = z.infer<typeof ingestRequestSchema>;
export type IngestRequestInput = z.input<typeof ingestRequestSchema>;
export type ChunkBatch = z.infer<typeof chunkBatchSchema>;
export type UpsertChunkBatch = Extract<ChunkBatch, { op: 'upsert' }>;
export type VectorBatch = z.infer<typeof vectorBatchSchema>;
export type UpsertVectorBatch = Extract<VectorBatch, { op: 'upsert' }>;
export type DeleteMessage = Extract<ChunkBatch, { op: 'delete' }>;
export type StatusEvent = z.infer<typeof statusEventSchema>;

export const SCHEMAS = {
  ingest: ingestRequestSchema,
  chunks: chunkBatchSchema,
  vectors: vectorBatchSchema,
  status: statusEventSchema,
} as const;
