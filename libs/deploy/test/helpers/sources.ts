import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { createBreakerMetrics, createConsumerMetrics, createRegistry } from '@docintel/core';
import { repoPath } from './paths';

/**
 * Workspaces that never run in a deployment: test fixtures, the provider emulators, these tests.
 * Their variables (TEST_LOG_LEVEL, ...) are not the services' configuration.
 */
const NOT_DEPLOYED = new Set(['libs/testing', 'libs/emulators', 'libs/deploy']);

/** Every .ts file under the src/ of the workspaces that run in the image. */
export function deployedSources(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) files.push(full);
    }
  };
  for (const group of ['libs', 'services']) {
    for (const workspace of readdirSync(repoPath(group), { withFileTypes: true })) {
      if (!workspace.isDirectory() || NOT_DEPLOYED.has(`${group}/${workspace.name}`)) continue;
      const src = repoPath(group, workspace.name, 'src');
      try {
        walk(src);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      }
    }
  }
  return files;
}

/**
 * The environment variables the services and the CLI read, found in their sources rather than kept
 * by hand: a name passed to an env reader (`envInt(env, 'CHUNK_SIZE', ...)`, `positive(env,
 * 'EMBEDDING_RPM')`) or read off an env object (`env.DOCINTEL_HOME`, `ctx.env.LANCEDB_DIR`).
 */
export function configVariables(): Set<string> {
  const names = new Set<string>();
  const pattern = /\benv\??(?:\.|\[\s*['"]|,\s*['"])([A-Z][A-Z0-9_]*[A-Z0-9])\b/g;
  for (const file of deployedSources()) {
    for (const match of readFileSync(file, 'utf8').matchAll(pattern)) names.add(match[1]!);
  }
  return names;
}

/** The series names a metric of a type exposes on /metrics. */
function seriesOf(name: string, type: string): string[] {
  if (type === 'histogram') return [`${name}_bucket`, `${name}_sum`, `${name}_count`];
  if (type === 'summary') return [name, `${name}_sum`, `${name}_count`];
  return [name];
}

/**
 * Every series the services export: the shared registry (prom-client's default metrics with the
 * docintel_ prefix, the consumer runner's and the breakers' metrics), built here without starting
 * anything, plus the metrics a stage registers itself (`new Counter({ name: 'docintel_...' })` in
 * the sources, e.g. the embed stage's provider counters).
 */
export async function exportedSeries(): Promise<Set<string>> {
  const registry = createRegistry('deploy-test');
  createConsumerMetrics(registry);
  createBreakerMetrics(registry);
  const series = new Set<string>();
  for (const metric of await registry.getMetricsAsJSON()) {
    for (const name of seriesOf(metric.name, String(metric.type))) series.add(name);
  }
  const declared = /new (Counter|Gauge|Histogram|Summary)(?:<[^>]*>)?\(\s*\{\s*name:\s*'(docintel_[a-z0-9_]+)'/g;
  for (const file of deployedSources()) {
    for (const match of readFileSync(file, 'utf8').matchAll(declared)) {
      for (const name of seriesOf(match[2]!, match[1]!.toLowerCase())) series.add(name);
    }
  }
  registry.clear();
  return series;
}

/**
 * Series of kafka-exporter (danielqsj/kafka_exporter), the external exporter the dashboard and the
 * lag alerts need: a consumer cannot report its own group's lag while it is down or stuck.
 */
export const KAFKA_EXPORTER_SERIES = [
  'kafka_consumergroup_lag',
  'kafka_consumergroup_lag_sum',
  'kafka_consumergroup_current_offset',
  'kafka_topic_partition_current_offset',
  'kafka_topic_partition_oldest_offset',
] as const;
