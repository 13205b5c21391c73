import { readFileSync } from 'node:fs';
import { DEFAULT_PORTS, type ServiceName } from '@docintel/service';
import { parse } from 'yaml';
import { repoPath, SERVICES } from './helpers/paths';
import { configVariables } from './helpers/sources';

/** The parts of a Compose service the tests read. */
interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile?: string };
  entrypoint?: string[];
  command?: string[];
  environment?: Record<string, string | number>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[]; interval?: string; retries?: number };
  volumes?: string[];
  profiles?: string[];
}

// No Docker engine runs here: the file is checked as data. `merge` resolves the `<<: *anchor` keys
// Compose resolves.
const compose = parse(readFileSync(repoPath('docker-compose.kafka.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
  volumes: Record<string, unknown>;
};
const services = compose.services;
const service = (name: string): ComposeService => {
  const found = services[name];
  if (!found) throw new Error(`docker-compose.kafka.yml has no service ${name}`);
  return found;
};

describe('docker-compose.kafka.yml', () => {
  test('runs Kafka, PostgreSQL, the init job, the four services and an on-demand CLI', () => {
    expect(Object.keys(services).sort()).toEqual(['cli', 'embed', 'fetch', 'init', 'kafka', 'postgres', 'status', 'store']);
    expect(service('cli').profiles).toEqual(['cli']);
  });

  test('Kafka: the official image, a single KRaft node (broker and controller), with a healthcheck', () => {
    const kafka = service('kafka');
    expect(kafka.image).toMatch(/^apache\/kafka:4\.\d+\.\d+$/);
    expect(String(kafka.environment?.KAFKA_PROCESS_ROLES).split(',').sort()).toEqual(['broker', 'controller']);
    expect(kafka.environment?.KAFKA_ADVERTISED_LISTENERS).toContain('PLAINTEXT://kafka:9092');
    expect(kafka.environment?.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR).toBe(1);
    expect(kafka.healthcheck?.test.join(' ')).toContain('--bootstrap-server localhost:9092');
  });

  test('PostgreSQL 15 with a pg_isready healthcheck', () => {
    const postgres = service('postgres');
    expect(postgres.image).toMatch(/^postgres:15(\.|-|$)/);
    expect(postgres.healthcheck?.test).toEqual(expect.arrayContaining(['pg_isready']));
  });

  test('init migrates, then creates the topics, once Kafka and PostgreSQL are healthy', () => {
    const init = service('init');
    expect(init.build?.context).toBe('.');
    const script = [...(init.entrypoint ?? []), ...(init.command ?? [])].join(' ');
    expect(script).toMatch(/node libs\/cli\/dist\/main\.js migrate && node libs\/cli\/dist\/main\.js topics create --partitions \d+/);
    expect(init.depends_on).toEqual({ kafka: { condition: 'service_healthy' }, postgres: { condition: 'service_healthy' } });
  });

  test.each(SERVICES)('%s: built from the Dockerfile, started after init succeeded, with a /healthz healthcheck on its port', (name: ServiceName) => {
    const svc = service(name);
    expect(svc.build).toEqual({ context: '.', dockerfile: 'Dockerfile' });
    expect(svc.command).toEqual([`services/${name}/dist/main.js`]);
    expect(svc.depends_on?.init).toEqual({ condition: 'service_completed_successfully' });
    expect(svc.depends_on?.kafka).toEqual({ condition: 'service_healthy' });
    expect(svc.depends_on?.postgres).toEqual({ condition: 'service_healthy' });
    const port = Number(svc.environment?.HTTP_PORT);
    expect(port).toBe(DEFAULT_PORTS[name]);
    expect(svc.healthcheck?.test.join(' ')).toContain(`http://127.0.0.1:${port}/healthz`);
    expect(svc.environment).toMatchObject({ KAFKA_BROKERS: 'kafka:9092', DATABASE_URL: expect.stringMatching(/^postgres:\/\/[^@]+@postgres:5432\//) });
  });

  test('every environment variable a container of ours gets is one the services or the CLI read', () => {
    const known = configVariables();
    // A sanity check of the derivation itself: it finds the names of every config source.
    for (const name of ['KAFKA_BROKERS', 'TOPIC_PREFIX', 'KAFKA_SASL_PASSWORD', 'DATABASE_URL', 'HTTP_PORT', 'CONSUMER_GROUP', 'CHUNK_SIZE', 'EMBEDDING_RPM', 'GEMINI_API_KEY', 'LANCEDB_DIR', 'DOCINTEL_HOME']) {
      expect(known).toContain(name);
    }
    const ours = Object.entries(services).filter(([, svc]) => svc.build !== undefined);
    expect(ours.map(([name]) => name).sort()).toEqual(['cli', 'embed', 'fetch', 'init', 'status', 'store']);
    const unknown = ours.flatMap(([name, svc]) => Object.keys(svc.environment ?? {}).filter((key) => !known.has(key)).map((key) => `${name}: ${key}`));
    expect(unknown).toEqual([]);
  });

  test('the store and the CLI share the LanceDB volume at LANCEDB_DIR; no one else writes to it', () => {
    for (const name of ['store', 'cli']) {
      const svc = service(name);
      const dir = String(svc.environment?.LANCEDB_DIR);
      expect(svc.volumes).toContain(`lancedb:${dir}`);
    }
    expect(compose.volumes).toHaveProperty('lancedb');
    const others = Object.entries(services).filter(([name]) => !['store', 'cli'].includes(name));
    expect(others.filter(([, svc]) => (svc.volumes ?? []).some((volume) => volume.startsWith('lancedb:')))).toEqual([]);
  });

  test('every dependency names a service of the file, with a condition', () => {
    for (const svc of Object.values(services)) {
      for (const [target, { condition }] of Object.entries(svc.depends_on ?? {})) {
        expect(Object.keys(services)).toContain(target);
        expect(['service_started', 'service_healthy', 'service_completed_successfully']).toContain(condition);
        if (condition === 'service_healthy') expect(service(target).healthcheck).toBeDefined();
      }
    }
  });
});
