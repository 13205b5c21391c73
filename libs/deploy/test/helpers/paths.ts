import path from 'node:path';
import { topicNames, type TopicNames } from '@docintel/contracts';
import type { ServiceName } from '@docintel/service';

/** The repository's root (this file is libs/deploy/test/helpers/paths.ts). */
export const ROOT = path.resolve(__dirname, '..', '..', '..', '..');

export function repoPath(...parts: string[]): string {
  return path.join(ROOT, ...parts);
}

/** The four stages, in pipeline order. */
export const SERVICES: readonly ServiceName[] = ['fetch', 'embed', 'store', 'status'];

/** The role of the topic each stage consumes (the design's table). */
const CONSUMES: Record<ServiceName, keyof TopicNames> = { fetch: 'ingest', embed: 'chunks', store: 'vectors', status: 'status' };

/** The topic a stage consumes under a prefix, as the services name it. */
export function consumedTopic(service: ServiceName, prefix = ''): string {
  return topicNames(prefix)[CONSUMES[service]];
}

/** A stage's consumer group when CONSUMER_GROUP is not set (libs/service/src/config.ts). */
export function defaultGroup(service: ServiceName, prefix = ''): string {
  return `${prefix}docintel-${service}`;
}
