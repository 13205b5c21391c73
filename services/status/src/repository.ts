import type { DocumentState, StatusEvent } from '@docintel/contracts';
import { toDatabaseError, withTransaction } from '@docintel/db';
import type pg from 'pg';
import { nextState } from './fold';

/**
 * The version a rejected message's event goes to, or undefined when it must not be written: its
 * ids were read from a value that failed validation, so it counts only for a document that exists
 * and belongs to the event's tenant. Its own version counts when it has one that the document row
 * has reached; otherwise (missing, invalid, or beyond the row's) the row's version.
 */
async function rejectedVersion(client: pg.PoolClient, event: StatusEvent): Promise<number | undefined> {
  const found = await client.query<{ tenant_id: string; version: number }>(`select tenant_id, version from documents where id = $1`, [event.documentId]);
  const row = found.rows[0];
  if (!row || row.tenant_id !== event.tenantId) return undefined;
  return event.version !== undefined && event.version <= row.version ? event.version : row.version;
}

/**
 * Folds one event into its version's row, in one transaction with the row locked: the status
 * service is the only writer of these rows, and replaying an event changes nothing. Returns the
 * row's state, or undefined when the event is a rejected message's that names no document of
 * its tenant (nothing is written).
 */
export async function applyStatusEvent(pool: pg.Pool, event: StatusEvent): Promise<DocumentState | undefined> {
  try {
    return await withTransaction(pool, async (client) => {
      const version = event.rejected ? await rejectedVersion(client, event) : event.version;
      if (version === undefined) return undefined;
      const key = [event.tenantId, event.documentId, version];
      const inserted = await client.query(
        `insert into document_status (tenant_id, document_id, version, state, stage)
         values ($1, $2, $3, $4, $5) on conflict do nothing returning 1`,
        [...key, event.state, event.stage],
      );
      const created = inserted.rowCount === 1;
      const current = await client.query<{ state: DocumentState }>(
        `select state from document_status where tenant_id = $1 and document_id = $2 and version = $3 for update`,
        key,
      );
      const row = current.rows[0]!;
      if (event.batch && (event.state === 'storing' || event.state === 'completed')) {
        await client.query(
          `insert into status_batches (tenant_id, document_id, version, batch_index, chunks)
           values ($1, $2, $3, $4, $5) on conflict do nothing`,
          [...key, event.batch.index, event.batch.chunks],
        );
      }
      const state = created ? event.state : nextState(row.state, event);
      const moved = created || state !== row.state;
      await client.query(
        `update document_status set
           state = $4,
           stage = case when $5::boolean then $6 else stage end,
           total_chunks = coalesce($7, total_chunks),
           total_batches = coalesce($8, total_batches),
           -- Never lowered: a late duplicate event must not undo what completed recorded.
           stored_chunks = greatest(stored_chunks,
                                    case when $4 = 'completed' and $7::int is not null then $7::int
                                         else (select coalesce(sum(chunks), 0) from status_batches
                                                where tenant_id = $1 and document_id = $2 and version = $3) end),
           error_code = case when $4 = 'failed' and $9::text is not null then $9 when $4 = 'failed' then error_code else null end,
           error_message = case when $4 = 'failed' and $9::text is not null then $10 when $4 = 'failed' then error_message else null end,
           error_stage = case when $4 = 'failed' and $9::text is not null then $6 when $4 = 'failed' then error_stage else null end,
           waiting_reason = $11,
           waiting_until = case when $12::bigint is null then null else to_timestamp($12::bigint / 1000.0) end,
           updated_at = now()
         where tenant_id = $1 and document_id = $2 and version = $3`,
        [
          ...key,
          state,
          moved,
          event.stage,
          event.totalChunks ?? null,
          event.totalBatches ?? null,
          event.state === 'failed' ? (event.error?.code ?? 'UNKNOWN') : null,
          event.error?.message ?? null,
          event.waiting?.reason ?? null,
          event.waiting?.until ?? null,
        ],
      );
      return state;
    });
  } catch (error) {
    throw toDatabaseError(error, 'applying a status event');
  }
}
