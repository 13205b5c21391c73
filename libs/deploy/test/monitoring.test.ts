import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { repoPath } from './helpers/paths';
import { metricNames } from './helpers/promql';
import { exportedSeries, KAFKA_EXPORTER_SERIES } from './helpers/sources';

interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: Array<{ expr: string; refId: string }>;
}

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const dashboard = JSON.parse(readFileSync(repoPath('deploy', 'grafana', 'docintel.json'), 'utf8')) as {
  uid: string;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query?: unknown }> };
};
const rules = (parse(readFileSync(repoPath('deploy', 'prometheus', 'alerts.yaml'), 'utf8')) as { groups: Array<{ name: string; rules: Rule[] }> }).groups.flatMap(
  (group) => group.rules,
);
const panels = dashboard.panels.filter((panel) => panel.type !== 'row');
const dashboardExprs = panels.flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));

let known: Set<string>;
beforeAll(async () => {
  known = new Set([...(await exportedSeries()), ...KAFKA_EXPORTER_SERIES]);
});

function unknownMetrics(exprs: string[]): string[] {
  return [...new Set(exprs.flatMap(metricNames))].filter((name) => !known.has(name)).sort();
}

describe('the list of exported metrics the checks rely on', () => {
  test('holds the runner\'s, the breakers\', the stages\' own and the default process metrics', () => {
    for (const name of [
      'docintel_messages_total',
      'docintel_handle_seconds_bucket',
      'docintel_retries_total',
      'docintel_dead_letters_total',
      'docintel_consumer_paused',
      'docintel_breaker_state',
      'docintel_embedding_requests_total',
      'docintel_embedding_cache_hits_total',
      'docintel_vector_store_requests_total',
      'docintel_process_resident_memory_bytes',
    ]) {
      expect(known).toContain(name);
    }
  });

  test('metricNames finds the metrics of an expression and nothing else', () => {
    expect(
      metricNames('histogram_quantile(0.95, sum by (service, le) (rate(docintel_handle_seconds_bucket{service=~"$service", topic!="x"}[$__rate_interval])))'),
    ).toEqual(['docintel_handle_seconds_bucket']);
    expect(metricNames('sum(rate(a_total[5m])) / sum(rate(b_total[5m] offset 1h)) > 0.2 and on (service) c == 2')).toEqual(['a_total', 'b_total', 'c']);
    expect(metricNames('delta(kafka_consumergroup_lag{consumergroup=~".*docintel-(fetch|embed)"}[30m]) > 1e3')).toEqual(['kafka_consumergroup_lag']);
  });
});

describe('the Grafana dashboard', () => {
  test('uses only metrics the services export, or kafka-exporter\'s consumer lag', () => {
    expect(dashboardExprs.length).toBeGreaterThan(10);
    expect(unknownMetrics(dashboardExprs)).toEqual([]);
  });

  test('shows throughput, latency, lag, retries, dead letters, breakers and the providers', () => {
    const used = new Set(dashboardExprs.flatMap(metricNames));
    for (const name of [
      'docintel_messages_total',
      'docintel_handle_seconds_bucket',
      'kafka_consumergroup_lag',
      'docintel_retries_total',
      'docintel_dead_letters_total',
      'docintel_breaker_state',
      'docintel_consumer_paused',
      'docintel_embedding_requests_total',
      'docintel_vector_store_requests_total',
    ]) {
      expect(used).toContain(name);
    }
  });

  test('every panel queries the chosen Prometheus, with unique ids, without overlapping another', () => {
    expect(dashboard.templating.list.map((variable) => variable.name)).toEqual(expect.arrayContaining(['datasource', 'service']));
    expect(new Set(dashboard.panels.map((panel) => panel.id)).size).toBe(dashboard.panels.length);
    for (const panel of panels) {
      expect(panel.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
      expect(panel.targets?.length).toBeGreaterThan(0);
      expect(panel.gridPos.x + panel.gridPos.w).toBeLessThanOrEqual(24);
    }
    const cells = new Map<string, string>();
    for (const panel of dashboard.panels) {
      const { x, y, w, h } = panel.gridPos;
      for (let row = y; row < y + h; row++) {
        for (let column = x; column < x + w; column++) {
          const key = `${row}:${column}`;
          expect({ cell: key, taken: cells.get(key) }).toEqual({ cell: key, taken: undefined });
          cells.set(key, panel.title);
        }
      }
    }
  });
});

describe('the Prometheus alert rules', () => {
  test('use only metrics the services export, or kafka-exporter\'s consumer lag', () => {
    expect(unknownMetrics(rules.map((rule) => rule.expr))).toEqual([]);
  });

  test('alert on dead letters, consumer lag and open breakers', () => {
    const alerting = (metric: string) => rules.filter((rule) => metricNames(rule.expr).includes(metric)).map((rule) => rule.alert);
    expect(alerting('docintel_dead_letters_total').length).toBeGreaterThan(0);
    expect(alerting('kafka_consumergroup_lag').length).toBeGreaterThan(0);
    const breaker = rules.find((rule) => rule.alert === 'DocintelBreakerOpen');
    // docintel_breaker_state: 0 closed, 1 half-open, 2 open (libs/core/src/breaker.ts).
    expect(breaker?.expr).toMatch(/docintel_breaker_state\)? == 2/);
  });

  test('every rule is an alert with a severity, a summary and a description, and a unique name', () => {
    for (const rule of rules) {
      expect(rule.alert).toMatch(/^Docintel[A-Z]\w+$/);
      expect(['warning', 'critical']).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary).toBeTruthy();
      expect(rule.annotations?.description).toBeTruthy();
      if (rule.for !== undefined) expect(rule.for).toMatch(/^\d+[smh]$/);
    }
    expect(new Set(rules.map((rule) => rule.alert)).size).toBe(rules.length);
  });

  test('the lag alerts watch the main consumer groups, not the retry tiers\' (which hold messages on purpose)', () => {
    for (const rule of rules.filter((r) => metricNames(r.expr).includes('kafka_consumergroup_lag'))) {
      for (const [, pattern] of rule.expr.matchAll(/consumergroup=~"([^"]+)"/g)) {
        const regex = new RegExp(`^(?:${pattern})$`);
        expect(regex.test('staging.docintel-embed')).toBe(true);
        expect(regex.test('staging.docintel-embed.retry')).toBe(false);
      }
    }
  });
});
