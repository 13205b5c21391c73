import {
  assertSupportedNode,
  Breaker,
  BreakerGate,
  createBreakerMetrics,
  createConsumerMetrics,
  type BreakerOptions,
  createLogger,
  createRegistry,
  errorMessage,
  installShutdown,
  quietKnownWarnings,
  startOpsServer,
  type ConsumerMetrics,
  type Env,
  type Logger,
  type OpsServer,
  type Registry,
} from '@docintel/core';
import { SCHEMAS, topicNames, type TopicNames, type TopicRole } from '@docintel/contracts';
import { createPool, guardQueryable, redactUrl, type Queryable } from '@docintel/db';
import { StageConsumer, createKafka, createProducer, type StageConsumerOptions } from '@docintel/kafka';
import type { Producer } from 'kafkajs';
import type pg from 'pg';
import type { z } from 'zod';
import { loadServiceConfig, type ServiceConfig, type ServiceName } from './config';
import { createInFlightStore } from './inflight';
import { isDatabaseOutage } from './guard';

/** What a stage gets to build its handler with. */
export interface ServiceDeps {
  env: Env;
  /** A circuit breaker around one dependency; while any is open the stage pauses consumption. */
  breaker(name: string, options?: BreakerOptions): Breaker;
  config: ServiceConfig;
  logger: Logger;
  registry: Registry;
  /**
   * The stage's PostgreSQL pool, unguarded. Queries go through {@link ServiceDeps.db}; a client
   * is checked out with `withClient` / `withTransaction` (`@docintel/db`) and `guard: postgres`.
   */
  pool: pg.Pool;
  /**
   * The stage's PostgreSQL breaker. It counts only DATABASE_UNAVAILABLE (a lost or refused
   * connection) and opens on the first one, so the message that met the outage is held with the
   * rest of its partition instead of going to a retry tier.
   */
  postgres: Breaker;
  /** {@link ServiceDeps.pool} with every query through {@link ServiceDeps.postgres}. */
  db: Queryable;
  producer: Producer;
  topics: TopicNames;
}

export interface StageHandler<T extends { tenantId: string }> {
  handle: StageConsumerOptions<T>['handle'];
  onDeadLetter?: StageConsumerOptions<T>['onDeadLetter'];
  /** Messages of one partition batch handled at once. @default 1 */
  concurrency?: number;
  /** With concurrency: messages with the same key keep their order. */
  orderingKey?: StageConsumerOptions<T>['orderingKey'];
  /** @default 1 MiB */
  maxBytesPerPartition?: number;
  /** Extra readiness condition (e.g. the vector store opened). */
  ready?: () => boolean;
  /** Runs at shutdown after the consumer stopped, before the producer and pool close. */
  close?: () => Promise<void>;
}

export interface ServiceDefinition<R extends TopicRole> {
  name: ServiceName;
  /** The topic the stage consumes. */
  consumes: R;
  setup(deps: ServiceDeps): Promise<StageHandler<z.infer<(typeof SCHEMAS)[R]>>>;
}

export interface RunningService {
  config: ServiceConfig;
  ops: OpsServer;
  metrics: ConsumerMetrics;
  stop(): Promise<void>;
}

/**
 * Starts one pipeline stage: configuration (validated first, so a bad value stops the service
 * with the variable's name), logger, metrics, PostgreSQL pool, producer, the stage consumer with its
 * retry tiers, and the ops server. `stop()` is the graceful shutdown: the consumer finishes and
 * commits its batches in flight, then everything else closes; every step runs even if one fails.
 */
export async function startService<R extends TopicRole>(definition: ServiceDefinition<R>, env: Env = process.env): Promise<RunningService> {
  const config = loadServiceConfig(definition.name, env);
  const logger = createLogger({ service: definition.name, level: config.logLevel });
  const registry = createRegistry(definition.name);
  const metrics = createConsumerMetrics(registry);
  const topics = topicNames(config.kafka.topicPrefix);
  const pool = createPool(config.databaseUrl, { applicationName: `docintel-${definition.name}`, logger });
  const kafka = createKafka(config.kafka, logger);
  const producer = createProducer(kafka);
  logger.info('starting', {
    brokers: config.kafka.brokers,
    topicPrefix: config.kafka.topicPrefix,
    groupId: config.groupId,
    database: redactUrl(config.databaseUrl),
    sasl: config.kafka.sasl?.mechanism ?? 'none',
    ssl: config.kafka.ssl,
  });

  const gate = new BreakerGate();
  const breakerMetrics = createBreakerMetrics(registry);
  const breaker = (name: string, options?: BreakerOptions) => {
    const created = gate.add(new Breaker(name, { ...config.breaker, ...options }, breakerMetrics));
    created.onChange((state) => logger.warn('circuit breaker changed state', { breaker: name, state }));
    return created;
  };
  // Every stage needs PostgreSQL for every message, so one lost connection is an outage: the
  // breaker opens at once (the consecutive-failure limit is 1), and the consumer holds.
  const postgres = breaker('postgres', { counts: isDatabaseOutage, consecutiveFailures: 1 });
  const db = guardQueryable(pool, postgres);
  const deps: ServiceDeps = { env, config, logger, registry, pool, postgres, db, producer, topics, breaker };
  const handler = await definition.setup(deps);
  // Which messages are in flight, so that one that kills the process is dead-lettered (POISON_CRASH);
  // through the PostgreSQL breaker, so an outage holds the partitions as it does for the handlers.
  const inFlight = createInFlightStore(db);
  await producer.connect();

  // Set once the shutdown handlers are installed; a consumer that dies for good takes that path.
  const lifecycle: { shutdown?: (reason: string, code?: number) => Promise<void> } = {};
  const consumer = new StageConsumer({
    kafka,
    producer,
    logger,
    metrics,
    topic: topics[definition.consumes],
    groupId: config.groupId,
    schema: SCHEMAS[definition.consumes] as unknown as z.ZodType<z.infer<(typeof SCHEMAS)[R]>>,
    retryDelaysMs: config.retryDelaysMs,
    handle: handler.handle,
    onDeadLetter: handler.onDeadLetter,
    concurrency: handler.concurrency,
    orderingKey: handler.orderingKey,
    maxBytesPerPartition: handler.maxBytesPerPartition,
    partitionsConsumedConcurrently: config.partitionsConsumedConcurrently,
    gate,
    inFlight,
    onFatal: (error) => void lifecycle.shutdown?.(`consumer stopped: ${errorMessage(error)}`, 1),
  });
  const ops = await startOpsServer({
    port: config.httpPort,
    registry,
    ready: () => consumer.isReady() && (handler.ready?.() ?? true),
  });
  await consumer.start();
  logger.info('started', { httpPort: ops.port, consumes: topics[definition.consumes] });

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      const steps: Array<[string, () => Promise<void>]> = [
        ['consumer', () => consumer.stop()],
        ['handler', () => handler.close?.() ?? Promise.resolve()],
        ['producer', () => producer.disconnect()],
        ['database', () => pool.end()],
        ['ops server', () => ops.close()],
        ['breakers', async () => gate.shutdown()],
      ];
      const failures: string[] = [];
      for (const [name, run] of steps) {
        try {
          await run();
        } catch (error) {
          failures.push(`${name}: ${errorMessage(error)}`);
          logger.error('shutdown step failed', { step: name, error });
        }
      }
      if (failures.length > 0) throw new Error(`shutdown incomplete: ${failures.join('; ')}`);
    })();
    return stopping;
  };
  lifecycle.shutdown = installShutdown({ logger, graceMs: config.shutdownGraceMs, steps: [{ name: 'service', run: stop }] });
  return { config, ops, metrics, stop };
}

/** Entry point of a service process: start, or log why not and exit 1. */
export function main<R extends TopicRole>(definition: ServiceDefinition<R>): void {
  quietKnownWarnings();
  Promise.resolve()
    .then(() => assertSupportedNode(`the ${definition.name} service`))
    .then(() => startService(definition))
    .catch((error: unknown) => {
      // The logger may not exist yet (configuration errors come first), so this goes to stderr as JSON.
      process.stderr.write(`${JSON.stringify({ level: 'error', service: definition.name, message: 'failed to start', error: errorMessage(error) })}\n`);
      process.exit(1);
    });
}
