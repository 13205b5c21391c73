import { classifyError, envFraction, envInt, retrying, TransientError, type Breaker, type Env, type Logger } from '@docintel/core';
import type { VectorStore } from '@docintel/vectorstore';
import { Counter, Histogram, type Registry } from 'prom-client';

export interface StoreResilienceConfig {
  /** Tries per vector store call before the failure reaches the message. @default 3 */
  attempts: number;
  /** Fault injection for chaos tests: share of writes that fail transiently. @default 0 */
  chaosFailureRate: number;
}

/** `VECTOR_STORE_ATTEMPTS`, `CHAOS_VECTOR_STORE_FAILURE_RATE` (0 to 1; for fault tests only). */
export function loadStoreResilienceConfig(env: Env): StoreResilienceConfig {
  const chaosFailureRate = envFraction(env, 'CHAOS_VECTOR_STORE_FAILURE_RATE', 0);
  return { attempts: envInt(env, 'VECTOR_STORE_ATTEMPTS', 3, { min: 1, max: 10 }), chaosFailureRate };
}

/**
 * What counts against the vector store's breaker: its retriable failures, but not those of
 * PostgreSQL inside a write (the namespace lock's DATABASE_UNAVAILABLE, or CIRCUIT_OPEN of the
 * postgres breaker), which say nothing about the vector store and are the postgres breaker's.
 */
export function vectorStoreOutage(error: unknown): boolean {
  const { retriable, code } = classifyError(error);
  return retriable && code !== 'DATABASE_UNAVAILABLE' && code !== 'CIRCUIT_OPEN';
}

/** The store with short in-process retries of its writes (idempotent, so safe to repeat). */
export function resilientStore(
  store: VectorStore,
  config: StoreResilienceConfig,
  logger: Logger,
  breaker?: Breaker,
  registry?: Registry,
): VectorStore {
  const requests = registry
    ? new Counter({ name: 'docintel_vector_store_requests_total', help: 'Vector store calls, every attempt', labelNames: ['call', 'outcome'], registers: [registry] })
    : undefined;
  const latency = registry
    ? new Histogram({
        name: 'docintel_vector_store_request_seconds',
        help: 'Vector store call latency',
        labelNames: ['call', 'outcome'],
        buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [registry],
      })
    : undefined;
  const timed = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    try {
      const result = await work();
      requests?.inc({ call: name, outcome: 'ok' });
      latency?.observe({ call: name, outcome: 'ok' }, seconds());
      return result;
    } catch (error) {
      requests?.inc({ call: name, outcome: 'error' });
      latency?.observe({ call: name, outcome: 'error' }, seconds());
      throw error;
    }
  };
  const write = <T>(name: string, work: () => Promise<T>) =>
    retrying(
      () => {
        const attempt = async () => {
          if (config.chaosFailureRate > 0 && Math.random() < config.chaosFailureRate) {
            throw new TransientError('VECTOR_STORE_FAILED', `chaos: injected vector store failure in ${name}`);
          }
          return timed(name, work);
        };
        return breaker ? breaker.fire(attempt) : attempt();
      },
      { attempts: config.attempts, onRetry: (error, attempt, delayMs) => logger.debug('retrying vector store call', { call: name, error, attempt, delayMs }) },
    );
  return {
    upsert: (namespace, records) => write('upsert', () => store.upsert(namespace, records)),
    deleteDocument: (namespace, documentId, beforeVersion) => write('deleteDocument', () => store.deleteDocument(namespace, documentId, beforeVersion)),
    query: (namespace, vector, topK) => store.query(namespace, vector, topK),
    listIds: (namespace, documentId) => store.listIds(namespace, documentId),
    listNamespaces: () => store.listNamespaces(),
    close: () => store.close(),
  };
}
