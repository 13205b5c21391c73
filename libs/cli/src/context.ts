import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { homeDir } from './paths';
import { terminalSafe } from './terminal';
import { createLogger, type Logger } from '@docintel/core';
import { topicNames, type TopicNames } from '@docintel/contracts';
import { createPool, databaseUrlFromEnv } from '@docintel/db';
import { createKafka, createProducer, loadKafkaConfig, sendAll, withStandardHeaders, type KafkaConfig, type OutboundMessage } from '@docintel/kafka';
import type { Kafka, Producer } from 'kafkajs';
import type pg from 'pg';

/** What every command shares: configuration from the environment and lazily opened clients. */
export class CliContext {
  readonly env: NodeJS.ProcessEnv;
  readonly kafkaConfig: KafkaConfig;
  readonly topics: TopicNames;
  readonly databaseUrl: string;
  readonly logger: Logger;
  #pool: pg.Pool | undefined;
  #kafka: Kafka | undefined;
  #producer: Promise<Producer> | undefined;

  constructor(
    env: NodeJS.ProcessEnv = process.env,
    // The commands make what they print terminal-safe; the default writer does it once more.
    readonly out: (line: string) => void = (line) => process.stdout.write(`${terminalSafe(line, { multiline: true })}\n`),
    options: { useStackFile?: boolean } = {},
  ) {
    // The command line uses the providers its running stack was started with (`up --providers`),
    // under the caller's own environment.
    const stackFile = path.join(homeDir(env), 'stack.env.json');
    const stack = options.useStackFile && existsSync(stackFile) ? (JSON.parse(readFileSync(stackFile, 'utf8')) as Record<string, string>) : {};
    this.env = { ...stack, ...env };
    env = this.env;
    this.kafkaConfig = loadKafkaConfig(env, 'docintel-cli');
    this.topics = topicNames(this.kafkaConfig.topicPrefix);
    this.databaseUrl = databaseUrlFromEnv(env);
    // Library log lines (kafkajs warnings) go to stderr so stdout stays the command's output.
    this.logger = createLogger({ service: 'cli', level: env.LOG_LEVEL ?? 'error', stderr: true });
  }

  get pool(): pg.Pool {
    this.#pool ??= createPool(this.databaseUrl, { applicationName: 'docintel-cli', max: 4, logger: this.logger });
    return this.#pool;
  }

  get kafka(): Kafka {
    this.#kafka ??= createKafka(this.kafkaConfig, this.logger);
    return this.#kafka;
  }

  producer(): Promise<Producer> {
    this.#producer ??= (async () => {
      const producer = createProducer(this.kafka);
      await producer.connect();
      return producer;
    })();
    return this.#producer;
  }

  /** Produces messages durably (acks from all in-sync replicas), with the standard headers. */
  async send(messages: OutboundMessage[], traceId: string = randomUUID()): Promise<void> {
    if (messages.length === 0) return;
    const producer = await this.producer();
    await sendAll(producer, messages.map((message) => ({ topic: message.topic, message: withStandardHeaders(message, message.headers?.['trace-id'] ?? traceId) })));
  }

  async close(): Promise<void> {
    const producer = this.#producer;
    this.#producer = undefined;
    await Promise.allSettled([producer?.then((p) => p.disconnect()), this.#pool?.end()]);
    this.#pool = undefined;
  }
}
