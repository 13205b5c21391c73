import { AsyncLocalStorage } from 'node:async_hooks';
import { DocintelError, PermanentError, TransientError, type Logger } from '@docintel/core';
import type * as PineconeSdk from '@pinecone-database/pinecone';
import { fitMetadata, matchOf, metadataOf, upsertBatches, versionOf, TEXT_TRUNCATED, type PineconeVector } from './pinecone-records';
import { NAMESPACE_PATTERN, assertNamespace, assertQueryVector, uniqueRecords, type VectorMatch, type VectorRecord, type VectorStore } from './store';

/** Options of {@link PineconeStore}. */
export interface PineconeStoreOptions {
  /** Sent as `Api-Key`; never logged, and scrubbed from every error this class raises. */
  apiKey: string;
  /** The index's data-plane host (`https://<index>-<project>.svc.<region>.pinecone.io`, or an emulator's `http://127.0.0.1:<port>`). Skips the name lookup. */
  indexHost?: string;
  /** The index's name, resolved to its host through the control plane when `indexHost` is not set. */
  indexName?: string;
  /** Length of every vector; checked against the index's own dimension before the first write or query. */
  dimension: number;
  /** Per request, including reading the answer. @default 30_000 (ms) */
  timeoutMs?: number;
  /** Records per upsert request (Pinecone's limit is 1,000). @default 1000 */
  maxBatchRecords?: number;
  /** JSON body bytes per upsert request, under Pinecone's 2 MB. @default 2_000_000 */
  maxRequestBytes?: number;
  /** Metadata bytes per record (Pinecone's limit is 40 KB); longer texts are trimmed and flagged `textTruncated`. @default 40_960 */
  maxMetadataBytes?: number;
  /** Receives a warning per trimmed text. */
  logger?: Logger;
}

/** Counts of a {@link PineconeStore}'s work since it was made. */
export interface PineconeStoreStats {
  upsertRequests: number;
  upserted: number;
  deleteRequests: number;
  deleted: number;
  /** Records whose text was trimmed to fit the metadata limit. */
  truncatedTexts: number;
}

/** What the fetch under the SDK saw of the last response of one store call. */
interface CallContext {
  status?: number;
  retryAfter?: string | null;
}

/** Ids per `/vectors/list` page (Pinecone's maximum) and per `/vectors/delete` request. */
const LIST_PAGE = 100;
const DELETE_BATCH = 1000;

function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new PermanentError('INVALID_OPTIONS', `PineconeStore option ${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/**
 * A {@link VectorStore} on a Pinecone serverless index through `@pinecone-database/pinecone` v9,
 * one namespace per tenant. Upserts are cut into requests within 1,000 records and 2 MB; a
 * document's vectors are found by listing the id prefix `<documentId>#` (ids are
 * `<documentId>#<version>#<chunkIndex>`) and deleted 1,000 ids per request. Every field of a
 * record but its vector is stored as metadata, its text trimmed to the 40 KB limit if need be.
 * The index must use the cosine metric, so a match's score is the cosine similarity.
 *
 * The SDK's own retries are off (`maxRetries: 0`): callers retry. 429, 5xx, timeouts and network
 * failures are `TransientError('VECTOR_STORE_FAILED')` (a 429 with `details.retryAfterMs`); a
 * rejected request (400, 422) is a `PermanentError`, a dimension conflict `DIMENSION_MISMATCH`.
 *
 * Pinecone's listing is eventually consistent: a delete right after an upsert may miss vectors
 * written a moment before. The store service deletes older versions only once the newer one is
 * complete, long after they were written.
 */
export class PineconeStore implements VectorStore {
  readonly dimension: number;
  readonly stats: PineconeStoreStats = { upsertRequests: 0, upserted: 0, deleteRequests: 0, deleted: 0, truncatedTexts: 0 };
  readonly #apiKey: string;
  readonly #timeoutMs: number;
  readonly #maxBatchRecords: number;
  readonly #maxRequestBytes: number;
  readonly #maxMetadataBytes: number;
  readonly #logger: Logger | undefined;
  readonly #index: PineconeSdk.Index;
  readonly #namespaces = new Map<string, PineconeSdk.Index>();
  readonly #calls = new AsyncLocalStorage<CallContext>();
  /** Calls under way; close() lets them finish. */
  readonly #pending = new Set<Promise<unknown>>();
  #checkedDimension: Promise<void> | undefined;
  #state: 'open' | 'closing' | 'closed' = 'open';
  #closed: Promise<void> | undefined;

  constructor(options: PineconeStoreOptions) {
    if (typeof options.apiKey !== 'string' || options.apiKey.trim() === '') {
      throw new PermanentError('INVALID_OPTIONS', 'PineconeStore needs an API key (PINECONE_API_KEY)');
    }
    if (!options.indexHost && !options.indexName) {
      throw new PermanentError('INVALID_OPTIONS', 'PineconeStore needs an index host (PINECONE_INDEX_HOST) or name (PINECONE_INDEX)');
    }
    this.#apiKey = options.apiKey;
    this.dimension = checkInteger('dimension', options.dimension, 1, 20_000);
    this.#timeoutMs = checkInteger('timeoutMs', options.timeoutMs ?? 30_000, 1, 600_000);
    this.#maxBatchRecords = checkInteger('maxBatchRecords', options.maxBatchRecords ?? 1000, 1, 1000);
    this.#maxRequestBytes = checkInteger('maxRequestBytes', options.maxRequestBytes ?? 2_000_000, 1024, 2 * 1024 * 1024);
    this.#maxMetadataBytes = checkInteger('maxMetadataBytes', options.maxMetadataBytes ?? 40_960, 256, 40_960);
    this.#logger = options.logger;
    // Loaded here, not at the top: the SDK takes ~130 ms to load, which every process importing
    // this package would pay even on LanceDB.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Pinecone } = require('@pinecone-database/pinecone') as typeof PineconeSdk;
    const client = new Pinecone({ apiKey: options.apiKey, maxRetries: 0, fetchApi: (input, init) => this.#fetch(input, init) });
    this.#index = client.index({ ...(options.indexHost ? { host: options.indexHost } : {}), ...(options.indexName ? { name: options.indexName } : {}) });
  }

  async upsert(namespace: string, records: VectorRecord[]): Promise<void> {
    this.#checkOpen();
    const unique = uniqueRecords(namespace, records, this.dimension);
    if (unique.length === 0) return;
    const vectors = unique.map((record) => this.#vector(namespace, record));
    const batches = upsertBatches(namespace, vectors, this.#maxBatchRecords, this.#maxRequestBytes);
    await this.#run('upsert', namespace, true, async (index) => {
      // One request after another: a failure leaves a prefix written, and the retry rewrites it.
      for (const batch of batches) {
        await index.upsert({ records: batch });
        this.stats.upsertRequests += 1;
        this.stats.upserted += batch.length;
      }
    });
  }

  async deleteDocument(namespace: string, documentId: string, beforeVersion?: number): Promise<number> {
    this.#checkOpen();
    assertNamespace(namespace);
    if (beforeVersion !== undefined && !Number.isInteger(beforeVersion)) {
      throw new PermanentError('INVALID_OPTIONS', `beforeVersion must be an integer, got ${String(beforeVersion)}`);
    }
    return this.#run('deleteDocument', namespace, false, async (index) => {
      const stale = (await this.#list(index, `${documentId}#`)).filter((id) => {
        const version = versionOf(id, documentId);
        return version !== undefined && (beforeVersion === undefined || version < beforeVersion);
      });
      for (let start = 0; start < stale.length; start += DELETE_BATCH) {
        const ids = stale.slice(start, start + DELETE_BATCH);
        try {
          await index.deleteMany({ ids });
        } catch (error) {
          // The namespace is gone (its last vector deleted meanwhile): nothing left to delete.
          if ((error as { name?: unknown } | null)?.name === 'PineconeNotFoundError') break;
          throw error;
        }
        this.stats.deleteRequests += 1;
        this.stats.deleted += ids.length;
      }
      return stale.length;
    });
  }

  async query(namespace: string, vector: Float32Array, topK: number): Promise<VectorMatch[]> {
    this.#checkOpen();
    assertNamespace(namespace);
    assertQueryVector(vector, this.dimension);
    if (!Number.isInteger(topK) || topK < 1 || topK > 10_000) throw new PermanentError('INVALID_OPTIONS', `topK must be an integer from 1 to 10000, got ${String(topK)}`);
    return this.#run('query', namespace, true, async (index) => {
      const result = await index.query({ vector: Array.from(vector), topK, includeMetadata: true, includeValues: false });
      return result.matches.map((match) => matchOf(match.id, match.score, match.metadata));
    });
  }

  async listIds(namespace: string, documentId?: string): Promise<string[]> {
    this.#checkOpen();
    assertNamespace(namespace);
    return this.#run('listIds', namespace, false, async (index) => {
      if (documentId === undefined) return (await this.#list(index, undefined)).sort();
      return (await this.#list(index, `${documentId}#`)).filter((id) => versionOf(id, documentId) !== undefined).sort();
    });
  }

  async listNamespaces(): Promise<string[]> {
    this.#checkOpen();
    return this.#track('listNamespaces', '*', async () => {
      const stats = await this.#index.describeIndexStats();
      return Object.entries(stats.namespaces ?? {})
        .filter(([name, summary]) => summary.recordCount > 0 && NAMESPACE_PATTERN.test(name))
        .map(([name]) => name)
        .sort();
    });
  }

  /** Waits for calls under way; later calls fail. The SDK holds no connection of its own to release. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#state = 'closing';
    await Promise.allSettled([...this.#pending]);
    this.#state = 'closed';
  }

  #checkOpen(): void {
    if (this.#state !== 'open') throw new TransientError('VECTOR_STORE_FAILED', 'the Pinecone store is closed');
  }

  #vector(namespace: string, record: VectorRecord): PineconeVector {
    const metadata = metadataOf(record);
    const fitted = fitMetadata(record.id, metadata, this.#maxMetadataBytes);
    if (fitted !== undefined) {
      this.stats.truncatedTexts += 1;
      this.#logger?.warn('trimmed a chunk text to fit Pinecone metadata', {
        namespace,
        id: record.id,
        characters: record.text.length,
        keptCharacters: (fitted.text as string).length,
        maxMetadataBytes: this.#maxMetadataBytes,
        [TEXT_TRUNCATED]: true,
      });
    }
    return { id: record.id, values: Array.from(record.vector), metadata: fitted ?? metadata };
  }

  /** Every id with `prefix` in the namespace, page by page. */
  async #list(index: PineconeSdk.Index, prefix: string | undefined): Promise<string[]> {
    const ids: string[] = [];
    let paginationToken: string | undefined;
    do {
      const page = await index.listPaginated({ ...(prefix === undefined ? {} : { prefix }), limit: LIST_PAGE, ...(paginationToken === undefined ? {} : { paginationToken }) });
      for (const item of page.vectors ?? []) if (item.id !== undefined) ids.push(item.id);
      paginationToken = page.pagination?.next;
    } while (paginationToken);
    return ids;
  }

  /** Runs one store call against the namespace's handle, after the dimension check when `checked`. */
  #run<T>(action: string, namespace: string, checked: boolean, work: (index: PineconeSdk.Index) => Promise<T>): Promise<T> {
    return this.#track(action, namespace, async () => {
      if (checked) await this.#checkDimension();
      let index = this.#namespaces.get(namespace);
      if (index === undefined) {
        index = this.#index.namespace(namespace);
        this.#namespaces.set(namespace, index);
      }
      return work(index);
    });
  }

  /** Runs `work` so that close() waits for it, with the responses it causes observable, and turns failures into ours. */
  async #track<T>(action: string, namespace: string, work: () => Promise<T>): Promise<T> {
    const context: CallContext = {};
    const call = this.#calls.run(context, work);
    this.#pending.add(call);
    try {
      return await call;
    } catch (error) {
      throw this.#error(error, context, action, namespace);
    } finally {
      this.#pending.delete(call);
    }
  }

  /** Once per store: an index of another dimension must fail loudly, not fail every write. */
  #checkDimension(): Promise<void> {
    const check = (this.#checkedDimension ??= (async () => {
      const stats = await this.#index.describeIndexStats();
      if (stats.dimension !== undefined && stats.dimension !== this.dimension) {
        throw new PermanentError('DIMENSION_MISMATCH', `the Pinecone index has dimension ${stats.dimension}; the store expects dimension ${this.dimension}`);
      }
    })());
    // A failed check is tried again next time, unless the index really has another dimension.
    check.catch((error: unknown) => {
      if (!(error instanceof DocintelError && error.code === 'DIMENSION_MISMATCH') && this.#checkedDimension === check) this.#checkedDimension = undefined;
    });
    return check;
  }

  /** The SDK's fetch: a deadline per request, and the response's status and Retry-After noted for the call that caused it. */
  async #fetch(input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> {
    const deadline = AbortSignal.timeout(this.#timeoutMs);
    const signal = init?.signal ? AbortSignal.any([init.signal, deadline]) : deadline;
    const response = await fetch(input, { ...init, signal });
    const context = this.#calls.getStore();
    if (context !== undefined) {
      context.status = response.status;
      context.retryAfter = response.headers.get('retry-after');
    }
    return response;
  }

  #error(error: unknown, context: CallContext, action: string, namespace: string): DocintelError {
    if (error instanceof DocintelError) return error;
    // By shape, not `instanceof`: fetch's errors may come from another realm (jest's).
    const chain = causeChain(error);
    const name = chain[0]?.name ?? 'Error';
    const scrub = (text: string) => text.replaceAll(this.#apiKey, '***');
    const what = `Pinecone ${action} in namespace ${namespace}`;
    const message = scrub(chain[0]?.message ?? String(error)).slice(0, 500);
    const status = context.status !== undefined && context.status >= 400 ? context.status : undefined;
    const details: Record<string, unknown> = status === undefined ? {} : { status };
    const cause = chain.some((item) => item.text.includes(this.#apiKey)) ? {} : { cause: error };
    if (name === 'PineconeArgumentError') return new PermanentError('INVALID_OPTIONS', `${what}: ${message}`, cause);
    if (status === 429) {
      const retryAfterMs = parseRetryAfter(context.retryAfter);
      if (retryAfterMs !== undefined) details.retryAfterMs = retryAfterMs;
      return new TransientError('VECTOR_STORE_FAILED', `${what} was rate limited (429): ${message}`, { ...cause, details });
    }
    if (status === 400 || status === 422 || name === 'PineconeBadRequestError' || name === 'PineconeUnprocessableEntityError') {
      const code = /dimension/i.test(message) ? 'DIMENSION_MISMATCH' : 'VECTOR_STORE_FAILED';
      return new PermanentError(code, `${what} was rejected${status === undefined ? '' : ` (${status})`}: ${message}`, { ...cause, details });
    }
    if (status === 401 || name === 'PineconeAuthorizationError') {
      // The deployment's fault, not the message's: retriable, so the breaker pauses consumption.
      return new TransientError('VECTOR_STORE_FAILED', `${what}: the API key (PINECONE_API_KEY) was rejected`, { details });
    }
    if (chain.some((item) => item.name === 'TimeoutError' || item.name === 'AbortError')) return new TransientError('VECTOR_STORE_FAILED', `${what} timed out after ${this.#timeoutMs} ms`, { ...cause, details });
    // A connection failure's own message says little; its code (ECONNREFUSED, UND_ERR_SOCKET) says what happened.
    const code = chain.find((item) => item.code !== undefined)?.code;
    return new TransientError('VECTOR_STORE_FAILED', `${what} failed${status === undefined ? '' : ` (${status})`}${code === undefined ? '' : ` (${code})`}: ${message}`, { ...cause, details });
  }
}

/** The error and its causes, by shape. */
function causeChain(error: unknown): Array<{ name: string; message: string; text: string; code?: string }> {
  const chain: Array<{ name: string; message: string; text: string; code?: string }> = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null && 'message' in current; depth++) {
    const item = current as { name?: unknown; message: unknown; stack?: unknown; cause?: unknown };
    const code = (item as { code?: unknown }).code;
    chain.push({ name: String(item.name), message: String(item.message), text: `${String(item.message)}${typeof item.stack === 'string' ? item.stack : ''}`, ...(typeof code === 'string' ? { code } : {}) });
    current = item.cause;
  }
  return chain;
}

/** `Retry-After` in seconds or as an HTTP date, in milliseconds from now. */
function parseRetryAfter(header: string | null | undefined): number | undefined {
  const text = header?.trim();
  if (text === undefined || text === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
