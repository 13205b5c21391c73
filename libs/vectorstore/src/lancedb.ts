import { DocintelError, PermanentError, TransientError, errorMessage, type Logger } from '@docintel/core';
import type { Table } from '@lancedb/lancedb';
import type { Schema } from 'apache-arrow';
import { KeyedQueue } from './keyed-queue';
import { documentPredicate, metadataFields, toArrowTable, vectorSchema } from './records';
import { LanceTables } from './tables';
import { NAMESPACE_PATTERN, assertNamespace, assertQueryVector, uniqueRecords, type VectorMatch, type VectorRecord, type VectorStore } from './store';

/** Runs `work` while holding a lock on the namespace that other processes respect too. */
export type NamespaceLock = <T>(namespace: string, work: () => Promise<T>) => Promise<T>;

/** Options of {@link LanceDbStore}. */
export interface LanceDbStoreOptions {
  /** The database directory; created if missing. */
  directory: string;
  /** Length of every vector. */
  dimension: number;
  /** Cross-process lock around every write to a namespace (the store service passes a PostgreSQL advisory lock). */
  lock?: NamespaceLock;
  /** Compact a table after this many writes to it. @default 50 */
  optimizeEvery?: number;
  /** How old a table version must be before compaction removes it; readers in other processes may still be on it. @default 600_000 (10 minutes) */
  retainVersionsMs?: number;
  /** Seconds after which a read checks for other processes' writes; 0 checks on every read. @default 0 */
  readConsistencyIntervalSeconds?: number;
  /** Receives warnings about failed background compaction. */
  logger?: Logger;
}

const noLock: NamespaceLock = (_namespace, work) => work();

function checkInteger(name: string, value: number, min: number): number {
  if (!Number.isInteger(value) || value < min) {
    throw new PermanentError('INVALID_OPTIONS', `LanceDbStore option ${name} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

/** Our own errors (dimension mismatch, a lock's DATABASE_UNAVAILABLE) pass; LanceDB's become retriable. */
function storeError(error: unknown, action: string, namespace: string): DocintelError {
  if (error instanceof DocintelError) return error;
  return new TransientError('VECTOR_STORE_FAILED', `LanceDB ${action} in namespace ${namespace} failed: ${errorMessage(error)}`, { cause: error });
}

interface Row {
  id: string;
  document_id: string;
  version: number;
  chunk_index: number;
  text: string;
  title: string;
  _distance: number;
  // The metadata columns: null for rows written without them, absent from tables not yet given them.
  page?: number | null;
  page_end?: number | null;
  heading_path?: Iterable<string> | null;
}

const METADATA_COLUMNS = metadataFields().map((field) => field.name);

/**
 * A {@link VectorStore} on LanceDB in a local directory, one table per namespace.
 *
 * LanceDB corrupts a table when two writers insert the same new ids into it concurrently
 * (lancedb issue 3377), so every write to a table (upsert, delete, compaction) runs through an
 * in-process queue per table and inside the optional cross-process `lock`. Reads need neither.
 */
export class LanceDbStore implements VectorStore {
  readonly dimension: number;
  readonly #lock: NamespaceLock;
  readonly #optimizeEvery: number;
  readonly #retainVersionsMs: number;
  readonly #logger: Logger | undefined;
  readonly #schema: Schema;
  readonly #tables: LanceTables;
  readonly #queue = new KeyedQueue();
  /** Namespaces whose tables are known to have the metadata columns. */
  readonly #withMetadata = new Set<string>();
  /** Writes per table since its last compaction. */
  readonly #writes = new Map<string, number>();
  /** Reads under way; close() lets them finish before it closes the handles they use. */
  readonly #reads = new Set<Promise<unknown>>();
  #state: 'open' | 'closing' | 'closed' = 'open';
  #closed: Promise<void> | undefined;

  constructor(options: LanceDbStoreOptions) {
    if (typeof options.directory !== 'string' || options.directory === '') {
      throw new PermanentError('INVALID_OPTIONS', 'LanceDbStore option directory must be a non-empty path');
    }
    this.dimension = checkInteger('dimension', options.dimension, 1);
    this.#lock = options.lock ?? noLock;
    this.#optimizeEvery = checkInteger('optimizeEvery', options.optimizeEvery ?? 50, 1);
    this.#retainVersionsMs = checkInteger('retainVersionsMs', options.retainVersionsMs ?? 600_000, 0);
    const readConsistencyInterval = options.readConsistencyIntervalSeconds ?? 0;
    if (!Number.isFinite(readConsistencyInterval) || readConsistencyInterval < 0) {
      throw new PermanentError('INVALID_OPTIONS', `LanceDbStore option readConsistencyIntervalSeconds must be >= 0, got ${String(options.readConsistencyIntervalSeconds)}`);
    }
    this.#logger = options.logger;
    this.#schema = vectorSchema(this.dimension);
    this.#tables = new LanceTables(options.directory, readConsistencyInterval, this.#schema);
  }

  async upsert(namespace: string, records: VectorRecord[]): Promise<void> {
    this.#checkOpen();
    // mergeInsert (LanceDB) rejects a batch that matches one row twice: one record per id.
    const unique = uniqueRecords(namespace, records, this.dimension);
    if (unique.length === 0) return;
    const data = toArrowTable(unique, this.#schema);
    await this.#write(namespace, 'upsert', true, async (table) => {
      await this.#addMetadataColumns(namespace, table);
      await table.mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(data);
    });
  }

  async deleteDocument(namespace: string, documentId: string, beforeVersion?: number): Promise<number> {
    this.#checkOpen();
    assertNamespace(namespace);
    if (beforeVersion !== undefined && !Number.isInteger(beforeVersion)) {
      throw new PermanentError('INVALID_OPTIONS', `beforeVersion must be an integer, got ${String(beforeVersion)}`);
    }
    const predicate = documentPredicate(documentId, beforeVersion);
    const deleted = await this.#write(namespace, 'delete', false, async (table) => (await table.delete(predicate)).numDeletedRows);
    return deleted ?? 0;
  }

  async query(namespace: string, vector: Float32Array, topK: number): Promise<VectorMatch[]> {
    this.#checkOpen();
    assertNamespace(namespace);
    assertQueryVector(vector, this.dimension);
    if (!Number.isInteger(topK) || topK < 1) throw new PermanentError('INVALID_OPTIONS', `topK must be a positive integer, got ${String(topK)}`);
    return this.#read(namespace, 'query', [], async (table) => {
      // A table made before the metadata columns existed has them only after its next write.
      const columns = new Set((await table.schema()).fields.map((field) => field.name));
      const rows = (await table
        .vectorSearch(vector)
        .distanceType('cosine')
        .limit(topK)
        .select(['id', 'document_id', 'version', 'chunk_index', 'text', 'title', '_distance', ...METADATA_COLUMNS.filter((name) => columns.has(name))])
        .toArray()) as Row[];
      return rows.map((row) => {
        const headingPath = row.heading_path == null ? [] : Array.from(row.heading_path);
        return {
          id: row.id,
          documentId: row.document_id,
          version: row.version,
          chunkIndex: row.chunk_index,
          text: row.text,
          title: row.title,
          score: 1 - row._distance,
          ...(row.page == null ? {} : { page: row.page, pageEnd: row.page_end ?? row.page }),
          ...(headingPath.length > 0 ? { headingPath } : {}),
        };
      });
    });
  }

  async listIds(namespace: string, documentId?: string): Promise<string[]> {
    this.#checkOpen();
    assertNamespace(namespace);
    return this.#read(namespace, 'listIds', [], async (table) => {
      let query = table.query().select(['id']);
      if (documentId !== undefined) query = query.where(documentPredicate(documentId));
      const rows = (await query.toArray()) as Pick<Row, 'id'>[];
      return rows.map((row) => row.id).sort();
    });
  }

  async listNamespaces(): Promise<string[]> {
    this.#checkOpen();
    return this.#tracked('listNamespaces', '*', async () => {
      const names = (await this.#tables.names()).filter((name) => NAMESPACE_PATTERN.test(name));
      const counts = await Promise.all(names.map(async (name) => (await this.#tables.get(name, false))?.countRows() ?? 0));
      return names.filter((_, i) => counts[i]! > 0).sort();
    });
  }

  /** Compacts the namespace's table and removes versions older than `retainVersionsMs`, inside the write lock. */
  async optimize(namespace: string): Promise<void> {
    this.#checkOpen();
    assertNamespace(namespace);
    await this.#write(namespace, 'optimize', false, async (table) => {
      await this.#optimize(namespace, table);
    });
  }

  /** Waits for queued writes, then releases tables and the connection. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#state = 'closing';
    await Promise.allSettled([this.#queue.idle(), ...this.#reads]);
    this.#state = 'closed';
    await this.#tables.close();
  }

  #checkOpen(): void {
    if (this.#state !== 'open') throw new TransientError('VECTOR_STORE_FAILED', 'the LanceDB store is closed');
  }

  /** Serialises `work` with the other writes of the namespace, in this process and (through `lock`) across processes. */
  async #write<T>(namespace: string, action: string, create: boolean, work: (table: Table) => Promise<T>): Promise<T | undefined> {
    try {
      return await this.#queue.run(namespace, () =>
        this.#lock(namespace, async () => {
          const table = await this.#tables.get(namespace, create);
          if (table === undefined) return undefined;
          const result = await work(table);
          if (action !== 'optimize') await this.#afterWrite(namespace, table);
          return result;
        }),
      );
    } catch (error) {
      throw storeError(error, action, namespace);
    }
  }

  async #read<T>(namespace: string, action: string, ifMissing: T, work: (table: Table) => Promise<T>): Promise<T> {
    return this.#tracked(action, namespace, async () => {
      const table = await this.#tables.get(namespace, false);
      return table === undefined ? ifMissing : await work(table);
    });
  }

  /** Runs a read so that close() waits for it, and turns LanceDB's errors into ours. */
  async #tracked<T>(action: string, namespace: string, work: () => Promise<T>): Promise<T> {
    const read = work();
    this.#reads.add(read);
    try {
      return await read;
    } catch (error) {
      throw storeError(error, action, namespace);
    } finally {
      this.#reads.delete(read);
    }
  }

  /** Gives a table made before the chunk metadata columns existed those columns (empty); inside the write lock. */
  async #addMetadataColumns(namespace: string, table: Table): Promise<void> {
    if (this.#withMetadata.has(namespace)) return;
    const present = new Set((await table.schema()).fields.map((field) => field.name));
    const missing = metadataFields().filter((field) => !present.has(field.name));
    if (missing.length > 0) await table.addColumns(missing);
    this.#withMetadata.add(namespace);
  }

  /** Counts the write and compacts every `optimizeEvery` writes; still inside the lock. */
  async #afterWrite(namespace: string, table: Table): Promise<void> {
    const writes = (this.#writes.get(namespace) ?? 0) + 1;
    this.#writes.set(namespace, writes);
    if (writes < this.#optimizeEvery) return;
    try {
      await this.#optimize(namespace, table);
    } catch (error) {
      // The write itself is durable; failing it would only make the caller redo it. The counter
      // stays up, so the next write tries to compact again.
      this.#logger?.warn('LanceDB compaction failed', { namespace, error: errorMessage(error) });
    }
  }

  async #optimize(namespace: string, table: Table): Promise<void> {
    await table.optimize({ cleanupOlderThan: new Date(Date.now() - this.#retainVersionsMs) });
    this.#writes.set(namespace, 0);
  }
}
