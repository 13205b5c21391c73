import { PermanentError } from '@docintel/core';
import { GeminiEmbedder, type GeminiEmbedderOptions } from './gemini';
import { LocalEmbedder } from './local';
import type { EmbeddingProvider } from './provider';

export * from './provider';
export * from './local';
export * from './batcher';
export * from './gemini';

/** Configuration of {@link createEmbeddingProvider}; one variant per backend. */
export type EmbeddingProviderConfig =
  | { provider: 'local'; dimension?: number; maxBatchSize?: number }
  | ({ provider: 'gemini' } & GeminiEmbedderOptions);

/** Builds the embedding provider that `config` names. */
export function createEmbeddingProvider(config: EmbeddingProviderConfig): EmbeddingProvider {
  switch (config.provider) {
    case 'local':
      return new LocalEmbedder({
        ...(config.dimension === undefined ? {} : { dimension: config.dimension }),
        ...(config.maxBatchSize === undefined ? {} : { maxBatchSize: config.maxBatchSize }),
      });
    case 'gemini': {
      const { provider: _provider, ...options } = config;
      return new GeminiEmbedder(options);
    }
    default:
      throw new PermanentError('INVALID_OPTIONS', `unknown embedding provider ${String((config as { provider: unknown }).provider)}`);
  }
}
export * from './config';
