import { decodeVector, encodeVector } from '@docintel/contracts';
import { toDatabaseError, type Queryable } from '@docintel/db';

/**
 * Vectors already computed for a tenant, by content hash, model and dimension: an unchanged chunk
 * of a new version, or a replayed message, costs no provider call. Kept per tenant so no tenant's
 * text ever shapes another's results.
 */
export class EmbeddingCache {
  constructor(
    private readonly db: Queryable,
    private readonly model: string,
    private readonly dimension: number,
  ) {}

  async get(tenantId: string, hashes: string[]): Promise<Map<string, Float32Array>> {
    const found = new Map<string, Float32Array>();
    if (hashes.length === 0) return found;
    try {
      const result = await this.db.query<{ content_hash: string; vector: Buffer }>(
        `select content_hash, vector from embedding_cache
          where tenant_id = $1 and model = $2 and dimension = $3 and content_hash = any($4::text[])`,
        [tenantId, this.model, this.dimension, hashes],
      );
      for (const row of result.rows) found.set(row.content_hash, decodeVector(row.vector.toString('base64')));
    } catch (error) {
      throw toDatabaseError(error, 'reading the embedding cache');
    }
    return found;
  }

  async put(tenantId: string, entries: Array<{ hash: string; vector: Float32Array }>): Promise<void> {
    if (entries.length === 0) return;
    try {
      await this.db.query(
        `insert into embedding_cache (tenant_id, model, dimension, content_hash, vector)
         select $1, $2, $3, hash, decode(vec, 'base64') from unnest($4::text[], $5::text[]) as t(hash, vec)
         on conflict do nothing`,
        [tenantId, this.model, this.dimension, entries.map((e) => e.hash), entries.map((e) => encodeVector(e.vector))],
      );
    } catch (error) {
      throw toDatabaseError(error, 'writing the embedding cache');
    }
  }
}
