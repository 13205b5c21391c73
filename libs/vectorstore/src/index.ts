import { PermanentError, type Logger } from '@docintel/core';
import { LanceDbStore, type NamespaceLock } from './lancedb';
import { PineconeStore, type PineconeStoreOptions } from './pinecone';
import type { VectorStore } from './store';

export * from './store';
export * from './lancedb';
export * from './pinecone';
export { TEXT_TRUNCATED } from './pinecone-records';
export { sqlString, documentPredicate } from './records';

/** Configuration of {@link createVectorStore}; one variant per backend. */
export type VectorStoreConfig =
  | {
      kind: 'lancedb';
      directory: string;
      dimension: number;
      lock?: NamespaceLock;
      /** @default 50 */
      optimizeEvery?: number;
      logger?: Logger;
    }
  | (PineconeStoreOptions & {
      kind: 'pinecone';
      /** Ignored: Pinecone serialises writes itself, so it needs no cross-process lock. Accepted so callers can pass one to any backend. */
      lock?: NamespaceLock;
    });

/** Builds the vector store that `config` names. */
export function createVectorStore(config: VectorStoreConfig): VectorStore {
  switch (config.kind) {
    case 'lancedb': {
      const { kind: _kind, ...options } = config;
      return new LanceDbStore(options);
    }
    case 'pinecone': {
      const { kind: _kind, lock: _lock, ...options } = config;
      return new PineconeStore(options);
    }
    default:
      throw new PermanentError('INVALID_OPTIONS', `unknown vector store kind ${String((config as { kind: unknown }).kind)}`);
  }
}
export * from './config';
