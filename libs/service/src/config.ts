import { envInt, envIntList, envOptional, envString, type Env } from '@docintel/core';
import { databaseUrlFromEnv } from '@docintel/db';
import { loadKafkaConfig, type KafkaConfig } from '@docintel/kafka';

export type ServiceName = 'fetch' | 'embed' | 'store' | 'status';

/** Default ops ports: one per service, so all four can run on one machine. */
export const DEFAULT_PORTS: Record<ServiceName, number> = { fetch: 9101, embed: 9102, store: 9103, status: 9104 };

export interface ServiceConfig {
  service: ServiceName;
  kafka: KafkaConfig;
  databaseUrl: string;
  /** Port of /healthz, /readyz and /metrics. */
  httpPort: number;
  logLevel: string;
  /** Consumer group of the main topic; retry tiers use `${groupId}.retry`. */
  groupId: string;
  /** @default [5_000, 30_000, 120_000] — 5 s, 30 s, 2 min */
  retryDelaysMs: number[];
  /** @default 4 */
  partitionsConsumedConcurrently: number;
  /** Hard limit for a graceful shutdown. @default 25_000 */
  shutdownGraceMs: number;
  /** Defaults of the dependencies' circuit breakers. */
  breaker: { errorThresholdPercentage: number; volumeThreshold: number; resetTimeoutMs: number; timeoutMs: number; consecutiveFailures: number };
}

const LOG_LEVELS = ['error', 'warn', 'info', 'http', 'verbose', 'debug', 'silly'];

/**
 * What every service reads: `KAFKA_*`, `TOPIC_PREFIX`, `DATABASE_URL`, `HTTP_PORT`, `LOG_LEVEL`,
 * `CONSUMER_GROUP`, `RETRY_DELAYS_MS`, `PARTITIONS_CONSUMED_CONCURRENTLY`, `SHUTDOWN_GRACE_MS`.
 */
export function loadServiceConfig(service: ServiceName, env: Env = process.env): ServiceConfig {
  const kafka = loadKafkaConfig(env, `docintel-${service}`);
  const logLevel = envString(env, 'LOG_LEVEL', 'info');
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new Error(`LOG_LEVEL: must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  return {
    service,
    kafka,
    databaseUrl: databaseUrlFromEnv(env),
    httpPort: envInt(env, 'HTTP_PORT', DEFAULT_PORTS[service], { min: 0, max: 65_535 }),
    logLevel,
    groupId: envOptional(env, 'CONSUMER_GROUP') ?? `${kafka.topicPrefix}docintel-${service}`,
    retryDelaysMs: envIntList(env, 'RETRY_DELAYS_MS', [5_000, 30_000, 120_000]),
    partitionsConsumedConcurrently: envInt(env, 'PARTITIONS_CONSUMED_CONCURRENTLY', 4, { min: 1, max: 64 }),
    shutdownGraceMs: envInt(env, 'SHUTDOWN_GRACE_MS', 25_000, { min: 1_000 }),
    breaker: {
      errorThresholdPercentage: envInt(env, 'BREAKER_ERROR_PERCENT', 50, { min: 1, max: 100 }),
      volumeThreshold: envInt(env, 'BREAKER_VOLUME_THRESHOLD', 3, { min: 1 }),
      resetTimeoutMs: envInt(env, 'BREAKER_RESET_MS', 5_000, { min: 100 }),
      timeoutMs: envInt(env, 'BREAKER_TIMEOUT_MS', 60_000, { min: 100 }),
      consecutiveFailures: envInt(env, 'BREAKER_CONSECUTIVE_FAILURES', 3, { min: 1 }),
    },
  };
}
