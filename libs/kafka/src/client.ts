import type { Logger } from '@docintel/core';
import { Kafka, logLevel, Partitioners, type Producer, type LogEntry } from 'kafkajs';
import { toKafkaJsConfig, type KafkaConfig } from './config';

const LEVELS: Record<number, string> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** A kafkajs client whose log lines go through our JSON logger (kafkajs' own are plain objects). */
export function createKafka(config: KafkaConfig, logger: Logger): Kafka {
  const kafkaLogger = logger.child({ component: 'kafkajs' });
  return new Kafka({
    ...toKafkaJsConfig(config),
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log, namespace }: LogEntry) => {
        const { message, ...rest } = log;
        // The group coordinator's "loading" answers during a broker start are retried by kafkajs itself.
        const quiet = /coordinator is loading|coordinator is not available|not the correct coordinator/i.test(String(rest.error ?? ''));
        kafkaLogger.log(quiet ? 'debug' : (LEVELS[level] ?? 'info'), message, { namespace, ...rest });
      },
  });
}

/**
 * An idempotent producer that waits for every in-sync replica: a send that resolves is durable,
 * so offsets may be committed after it.
 */
export function createProducer(kafka: Kafka): Producer {
  return kafka.producer({
    idempotent: true,
    maxInFlightRequests: 5,
    createPartitioner: Partitioners.DefaultPartitioner,
    // No retry limit: an idempotent producer keeps retrying (kafkajs warns when limited), and a
    // consumer waiting on it holds its offsets rather than losing messages.
    retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 10_000 },
  });
}
