/** Which side of a retrieval a text is on; some models embed queries and documents differently. */
export type EmbeddingKind = 'document' | 'query';

/**
 * The port every embedding backend implements. One call is one provider request: batching many
 * callers into requests is the job of {@link EmbeddingBatcher}, not of the provider.
 */
export interface EmbeddingProvider {
  /** e.g. 'docintel-local-v1'; part of the embedding cache key */
  readonly model: string;
  readonly dimension: number;
  /** Most texts one request may carry. */
  readonly maxBatchSize: number;
  /** One provider request. texts.length <= maxBatchSize. Returns one L2-normalised vector per text, in order. */
  embed(texts: string[], kind: EmbeddingKind): Promise<Float32Array[]>;
  /** Releases connections or workers, if the provider holds any. */
  close?(): Promise<void>;
}
