import { classifyError, envFraction, envInt, retrying, TransientError, type Breaker, type Env, type Logger } from '@docintel/core';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { EmbeddingProvider } from '@docintel/embedding';
import { estimateTokens, type SharedRateLimiter } from './quota';

export interface ResilienceConfig {
  /** Tries per provider request before the failure reaches the message. @default 3 */
  attempts: number;
  /** Fault injection for chaos tests: share of provider requests that fail transiently. @default 0 */
  chaosFailureRate: number;
}

/** `EMBEDDING_ATTEMPTS`, `CHAOS_EMBEDDING_FAILURE_RATE` (0 to 1; for fault tests only). */
export function loadResilienceConfig(env: Env): ResilienceConfig {
  const chaosFailureRate = envFraction(env, 'CHAOS_EMBEDDING_FAILURE_RATE', 0);
  return { attempts: envInt(env, 'EMBEDDING_ATTEMPTS', 3, { min: 1, max: 10 }), chaosFailureRate };
}

/**
 * The provider with short in-process retries of transient failures (and, in chaos tests, injected
 * ones): a provider blip costs a backoff, not a trip of the whole message through a retry tier.
 */
export function resilientProvider(
  provider: EmbeddingProvider,
  config: ResilienceConfig,
  logger: Logger,
  breaker?: Breaker,
  limiter?: SharedRateLimiter,
  registry?: Registry,
): EmbeddingProvider {
  const metrics = registry ? providerMetrics(registry) : undefined;
  const call = async (texts: string[], kind: Parameters<EmbeddingProvider['embed']>[1]) => {
    if (config.chaosFailureRate > 0 && Math.random() < config.chaosFailureRate) {
      throw new TransientError('EMBEDDING_FAILED', 'chaos: injected embedding provider failure');
    }
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    try {
      const vectors = await provider.embed(texts, kind);
      metrics?.latency.observe({ outcome: 'ok' }, seconds());
      metrics?.fill.observe(texts.length);
      metrics?.tokens.inc(texts.reduce((sum, text) => sum + estimateTokens(text), 0));
      return vectors;
    } catch (error) {
      const { code } = classifyError(error);
      metrics?.latency.observe({ outcome: code === 'EMBEDDING_RATE_LIMITED' ? 'rate_limited' : 'error' }, seconds());
      if (code === 'EMBEDDING_RATE_LIMITED') metrics?.rateLimited.inc();
      throw error;
    }
  };
  return {
    model: provider.model,
    dimension: provider.dimension,
    maxBatchSize: provider.maxBatchSize,
    embed: (texts, kind) =>
      retrying(
        async () => {
          // Every attempt is a request the provider counts, so each takes its share of the shared
          // budget; the wait for it stays outside the breaker, which would count it as slowness.
          await limiter?.acquire(texts.reduce((sum, text) => sum + estimateTokens(text), 0));
          return breaker ? breaker.fire(() => call(texts, kind)) : call(texts, kind);
        },
        {
          attempts: config.attempts,
          onRetry: (error, attempt, delayMs) => logger.debug('retrying embedding request', { error, attempt, delayMs, texts: texts.length }),
        },
      ),
    close: () => provider.close?.() ?? Promise.resolve(),
  };
}

/** What the provider calls cost: latency, batch fill, tokens (estimated) and 429s. */
function providerMetrics(registry: Registry) {
  return {
    latency: new Histogram({
      name: 'docintel_embedding_request_seconds',
      help: 'Embedding provider request latency, by outcome (ok, error, rate_limited)',
      labelNames: ['outcome'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    fill: new Histogram({
      name: 'docintel_embedding_batch_texts',
      help: 'Texts per successful provider request (batch fill; the provider allows EMBEDDING_MAX_BATCH)',
      buckets: [1, 5, 10, 25, 50, 75, 90, 99, 100, 250, 500, 1000],
      registers: [registry],
    }),
    tokens: new Counter({ name: 'docintel_embedding_tokens_total', help: 'Tokens sent to the provider (4 characters a token)', registers: [registry] }),
    rateLimited: new Counter({ name: 'docintel_embedding_rate_limited_total', help: 'Provider answers 429 (rate limited)', registers: [registry] }),
  };
}
