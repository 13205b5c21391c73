import { toDatabaseError, withClient, type Guard, type Queryable } from '@docintel/db';
import type pg from 'pg';

/** The store service's own record of each document: latest complete version and delete tombstone. */
export interface VectorVersions {
  completedVersion: number | null;
  deletedVersion: number | null;
}

async function run<R extends pg.QueryResultRow>(db: Queryable, action: string, text: string, values: unknown[]): Promise<pg.QueryResult<R>> {
  try {
    return await db.query<R>(text, values);
  } catch (error) {
    throw toDatabaseError(error, action);
  }
}

export async function readVersions(db: Queryable, tenantId: string, documentId: string): Promise<VectorVersions> {
  const result = await run<{ completed_version: number | null; deleted_version: number | null }>(
    db,
    'reading vector versions',
    'select completed_version, deleted_version from vector_versions where tenant_id = $1 and document_id = $2',
    [tenantId, documentId],
  );
  const row = result.rows[0];
  return { completedVersion: row?.completed_version ?? null, deletedVersion: row?.deleted_version ?? null };
}

/**
 * Records a stored batch and answers whether the whole version is now stored: the last batch names
 * the total, and every batch index below it has a row. Replays insert nothing new.
 */
export async function recordBatch(
  db: Queryable,
  batch: { tenantId: string; documentId: string; version: number; batchIndex: number; chunks: number; totalBatches: number | undefined },
): Promise<{ complete: boolean; totalChunks: number; totalBatches: number | null }> {
  await run(
    db,
    'recording a stored batch',
    `insert into stored_batches (tenant_id, document_id, version, batch_index, chunks, total_batches)
     values ($1, $2, $3, $4, $5, $6) on conflict do nothing`,
    [batch.tenantId, batch.documentId, batch.version, batch.batchIndex, batch.chunks, batch.totalBatches ?? null],
  );
  const result = await run<{ batches: string; chunks: string | null; total: number | null }>(
    db,
    'counting stored batches',
    `with total as (
       select max(total_batches) as n from stored_batches where tenant_id = $1 and document_id = $2 and version = $3
     )
     select count(*) filter (where (select n from total) is null or batch_index < (select n from total)) as batches,
            sum(chunks) filter (where (select n from total) is null or batch_index < (select n from total)) as chunks,
            (select n from total) as total
       from stored_batches where tenant_id = $1 and document_id = $2 and version = $3`,
    [batch.tenantId, batch.documentId, batch.version],
  );
  const row = result.rows[0]!;
  const total = row.total;
  return { complete: total !== null && Number(row.batches) === total, totalChunks: Number(row.chunks ?? 0), totalBatches: total };
}

/** Raises one of a document's recorded versions; it never goes down (replays are harmless). */
async function raiseVersion(db: Queryable, column: 'completed_version' | 'deleted_version', tenantId: string, documentId: string, version: number): Promise<void> {
  await run(
    db,
    `recording the ${column.replace('_', ' ')}`,
    `insert into vector_versions (tenant_id, document_id, ${column}, updated_at) values ($1, $2, $3, now())
     on conflict (tenant_id, document_id) do update
       set ${column} = greatest(coalesce(vector_versions.${column}, 0), excluded.${column}), updated_at = now()`,
    [tenantId, documentId, version],
  );
}

export function markCompleted(db: Queryable, tenantId: string, documentId: string, version: number): Promise<void> {
  return raiseVersion(db, 'completed_version', tenantId, documentId, version);
}

export function markDeletedVersion(db: Queryable, tenantId: string, documentId: string, version: number): Promise<void> {
  return raiseVersion(db, 'deleted_version', tenantId, documentId, version);
}

/**
 * A cross-process lock per namespace (PostgreSQL advisory lock on a dedicated connection), so a
 * LanceDB table has one writer even while a rebalance briefly gives a partition to two consumers.
 * The connection is checked out through `guard` (the postgres breaker). A connection lost while
 * the lock is held fails the call as DATABASE_UNAVAILABLE: the lock did not last to the end of the
 * work (which is idempotent, so the message's next try writes it again).
 */
export function advisoryLock(pool: pg.Pool, guard?: Guard) {
  return <T>(namespace: string, work: () => Promise<T>): Promise<T> =>
    withClient(
      pool,
      async (client, discard) => {
        const key = `docintel:vectorstore:${namespace}`;
        await client.query('select pg_advisory_lock(hashtextextended($1, 0))', [key]);
        try {
          return await work();
        } finally {
          // A session that could not unlock must not go back to the pool still holding the lock:
          // destroying the connection releases it.
          await client.query('select pg_advisory_unlock(hashtextextended($1, 0))', [key]).catch(discard);
        }
      },
      { action: 'holding the vector store lock', guard },
    );
}
