import { PermanentError } from '@docintel/core';
import { LocalEmbedder } from './local';
import type { EmbeddingProvider } from './provider';

export * from './provider';
export * from './local';
export * from './batcher';

/** Configuration of {@link createEmbeddingProvider}; one variant per backend. */
export type EmbeddingProviderConfig = { provider: 'local'; dimension?: number; maxBatchSize?: number };

/** Builds the embedding provider that `config` names. */
export function createEmbeddingProvider(config: EmbeddingProviderConfig): EmbeddingProvider {
  switch (config.provider) {
    case 'local':
      return new LocalEmbedder({
        ...(config.dimension === undefined ? {} : { dimension: config.dimension }),
        ...(config.maxBatchSize === undefined ? {} : { maxBatchSize: config.maxBatchSize }),
      });
    default:
      throw new PermanentError('INVALID_OPTIONS', `unknown embedding provider ${String((config as { provider: unknown }).provider)}`);
  }
}
export * from './config';
