import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type { Counter, Gauge, Histogram, Registry };

/** One registry per process, with the default Node metrics and a `service` label on everything. */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, prefix: 'docintel_' });
  return registry;
}

/** Metrics every consumer service exports; the runner updates them. */
export interface ConsumerMetrics {
  messages: Counter<'topic' | 'outcome'>;
  handleSeconds: Histogram<'topic'>;
  retries: Counter<'topic' | 'tier' | 'code'>;
  deadLetters: Counter<'topic' | 'code'>;
  paused: Gauge<'reason'>;
}

export function createConsumerMetrics(registry: Registry): ConsumerMetrics {
  return {
    messages: new Counter({
      name: 'docintel_messages_total',
      help: 'Messages consumed, by topic and outcome (ok, retry, dlq, skipped)',
      labelNames: ['topic', 'outcome'],
      registers: [registry],
    }),
    handleSeconds: new Histogram({
      name: 'docintel_handle_seconds',
      help: 'Time to handle one batch of messages',
      labelNames: ['topic'],
      buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    retries: new Counter({
      name: 'docintel_retries_total',
      help: 'Messages sent to a retry tier',
      labelNames: ['topic', 'tier', 'code'],
      registers: [registry],
    }),
    deadLetters: new Counter({
      name: 'docintel_dead_letters_total',
      help: 'Messages sent to a dead-letter topic',
      labelNames: ['topic', 'code'],
      registers: [registry],
    }),
    paused: new Gauge({
      name: 'docintel_consumer_paused',
      help: 'Partitions currently paused, by reason (retry-delay, breaker)',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}
