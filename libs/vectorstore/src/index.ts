import { PermanentError, type Logger } from '@docintel/core';
import { LanceDbStore, type NamespaceLock } from './lancedb';
import type { VectorStore } from './store';

export * from './store';
export * from './lancedb';
export { sqlString, documentPredicate } from './records';

/** Configuration of {@link createVectorStore}; one variant per backend. */
export type VectorStoreConfig = {
  kind: 'lancedb';
  directory: string;
  dimension: number;
  lock?: NamespaceLock;
  /** @default 50 */
  optimizeEvery?: number;
  logger?: Logger;
};

/** Builds the vector store that `config` names. */
export function createVectorStore(config: VectorStoreConfig): VectorStore {
  switch (config.kind) {
    case 'lancedb': {
      const { kind: _kind, ...options } = config;
      return new LanceDbStore(options);
    }
    default:
      throw new PermanentError('INVALID_OPTIONS', `unknown vector store kind ${String((config as { kind: unknown }).kind)}`);
  }
}
export * from './config';
