import { readFileSync } from 'node:fs';
import { ConfigError, envBool, envEnum, envList, envOptional, envString, type Env } from '@docintel/core';
import type { KafkaConfig as KafkaJsConfig, SASLOptions } from 'kafkajs';

export interface KafkaConfig {
  brokers: string[];
  clientId: string;
  /** Put in front of every topic name, e.g. `staging.`. @default '' */
  topicPrefix: string;
  ssl: boolean;
  /** PEM of the CA that signed the brokers' certificates; the system CAs when unset. */
  sslCa: string | undefined;
  sasl: { mechanism: 'scram-sha-256' | 'scram-sha-512' | 'plain'; username: string; password: string } | undefined;
}

export const DEFAULT_BROKERS = ['127.0.0.1:9092'];

/**
 * `KAFKA_BROKERS` (comma-separated), `KAFKA_CLIENT_ID`, `TOPIC_PREFIX`, `KAFKA_SSL`,
 * `KAFKA_SSL_CA_FILE`, `KAFKA_SASL_MECHANISM` (scram-sha-256, scram-sha-512, plain),
 * `KAFKA_SASL_USERNAME`, `KAFKA_SASL_PASSWORD`.
 */
export function loadKafkaConfig(env: Env, clientId: string): KafkaConfig {
  const mechanism = envOptional(env, 'KAFKA_SASL_MECHANISM');
  let sasl: KafkaConfig['sasl'];
  if (mechanism !== undefined) {
    sasl = {
      mechanism: envEnum(env, 'KAFKA_SASL_MECHANISM', ['scram-sha-256', 'scram-sha-512', 'plain'] as const, 'scram-sha-512'),
      username: envString(env, 'KAFKA_SASL_USERNAME'),
      password: envString(env, 'KAFKA_SASL_PASSWORD'),
    };
  }
  const caFile = envOptional(env, 'KAFKA_SSL_CA_FILE');
  let sslCa: string | undefined;
  if (caFile !== undefined) {
    try {
      sslCa = readFileSync(caFile, 'utf8');
    } catch (error) {
      throw new ConfigError('KAFKA_SSL_CA_FILE', `cannot read ${caFile}: ${(error as Error).message}`);
    }
  }
  const prefix = envOptional(env, 'TOPIC_PREFIX') ?? '';
  if (!/^[A-Za-z0-9._-]*$/.test(prefix)) throw new ConfigError('TOPIC_PREFIX', `may only contain letters, digits, ".", "_" and "-", got "${prefix}"`);
  const brokers = envList(env, 'KAFKA_BROKERS', DEFAULT_BROKERS);
  for (const broker of brokers) {
    if (!/^[^:\s]+:\d+$/.test(broker)) throw new ConfigError('KAFKA_BROKERS', `each broker must be host:port, got "${broker}"`);
  }
  return {
    brokers,
    clientId: envString(env, 'KAFKA_CLIENT_ID', clientId),
    topicPrefix: prefix,
    ssl: envBool(env, 'KAFKA_SSL', caFile !== undefined),
    sslCa,
    sasl,
  };
}

/** The kafkajs options for a config; the password goes only into the client, never into logs. */
export function toKafkaJsConfig(config: KafkaConfig): KafkaJsConfig {
  const options: KafkaJsConfig = {
    brokers: config.brokers,
    clientId: config.clientId,
    connectionTimeout: 10_000,
    requestTimeout: 30_000,
    retry: { initialRetryTime: 300, retries: 8, maxRetryTime: 10_000 },
  };
  if (config.ssl) options.ssl = config.sslCa ? { ca: [config.sslCa] } : true;
  if (config.sasl) options.sasl = { ...config.sasl } as SASLOptions;
  return options;
}
