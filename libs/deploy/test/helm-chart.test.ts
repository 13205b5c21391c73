import { readFileSync } from 'node:fs';
import type { ServiceName } from '@docintel/service';
import { parse } from 'yaml';
import { ALL_ON_VALUES, CHART, RELEASE, render, type Rendered } from './helpers/helm';
import type { Container, EnvVar, Manifest } from './helpers/k8s';
import { SERVICES } from './helpers/paths';
import { configVariables } from './helpers/sources';

interface Values {
  services: Record<ServiceName, { port: number }>;
  database: { existingSecret: string; existingSecretKey: string };
  kafka: { brokers: string; sasl: { enabled: boolean; existingSecret: string; usernameKey: string; passwordKey: string }; tls: { enabled: boolean; caSecret: string; caKey: string } };
  embedding: { provider: string; gemini: { existingSecret: string; existingSecretKey: string } };
  setup: { partitions: number; replicationFactor: number | null; serviceAccountName: string };
  config: { shutdownGraceMs: number | null };
}

const DEFAULTS = parse(readFileSync(`${CHART}/values.yaml`, 'utf8')) as Values;
const ALL_ON = parse(readFileSync(ALL_ON_VALUES, 'utf8')) as Partial<Values>;

/** The values a render used: the defaults, overlaid (one level deep is enough here) with the file's. */
function effective(file: Partial<Values>): Values {
  const merged: Record<string, unknown> = { ...DEFAULTS };
  for (const [key, value] of Object.entries(file)) {
    const base = merged[key];
    merged[key] = typeof value === 'object' && !Array.isArray(value) && typeof base === 'object' ? { ...base, ...value } : value;
  }
  return merged as unknown as Values;
}

function container(deployment: Manifest): Container {
  return deployment.spec!.template!.spec.containers[0]!;
}

function envOf(c: Container, name: string): EnvVar | undefined {
  return c.env?.find((env) => env.name === name);
}

const KNOWN = configVariables();

describe.each([
  ['the default values', [] as string[], effective({})],
  ['every optional part on (ci/all-on-values.yaml)', [ALL_ON_VALUES], effective(ALL_ON)],
])('the chart rendered with %s', (_label, files, values) => {
  let rendered: Rendered;
  beforeAll(() => {
    rendered = render({ values: files });
  });

  const deployment = (service: ServiceName) => rendered.get('Deployment', `${RELEASE}-${service}`);
  const configMap = () => rendered.get('ConfigMap', RELEASE);

  test('one Deployment per service, each running its own main.js from the one image', () => {
    expect(rendered.byKind('Deployment').map((d) => d.metadata.name).sort()).toEqual(SERVICES.map((s) => `${RELEASE}-${s}`).sort());
    const images = new Set(SERVICES.map((service) => container(deployment(service)).image));
    expect(images.size).toBe(1);
    for (const service of SERVICES) expect(container(deployment(service)).args).toEqual([`services/${service}/dist/main.js`]);
  });

  test.each(SERVICES)('%s: probes, port and HTTP_PORT agree', (service) => {
    const c = container(deployment(service));
    const port = values.services[service].port;
    expect(c.ports).toEqual([expect.objectContaining({ name: 'http', containerPort: port })]);
    expect(envOf(c, 'HTTP_PORT')?.value).toBe(String(port));
    expect(c.startupProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'http' });
    expect(c.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'http' });
    const svc = rendered.get('Service', `${RELEASE}-${service}`);
    expect(svc.spec!.ports).toEqual([expect.objectContaining({ name: 'http', port, targetPort: 'http' })]);
    expect(deployment(service).spec!.template!.metadata!.labels).toMatchObject(svc.spec!.selector!);
  });

  test.each(SERVICES)('%s: configuration from the ConfigMap, secrets by reference, every name one the services read', (service) => {
    const c = container(deployment(service));
    expect(c.envFrom).toContainEqual({ configMapRef: { name: RELEASE } });
    const names = [...Object.keys(configMap().data ?? {}), ...(c.env ?? []).map((env) => env.name)];
    expect(names.filter((name) => !KNOWN.has(name))).toEqual([]);
    expect(configMap().data?.KAFKA_BROKERS).toBe(values.kafka.brokers);

    const secretRef = (name: string) => envOf(c, name)?.valueFrom?.secretKeyRef;
    expect(envOf(c, 'DATABASE_URL')?.value).toBeUndefined();
    expect(secretRef('DATABASE_URL')).toEqual(
      values.database.existingSecret ? { name: values.database.existingSecret, key: values.database.existingSecretKey } : { name: RELEASE, key: 'DATABASE_URL' },
    );
    if (values.kafka.sasl.enabled) {
      expect(configMap().data?.KAFKA_SASL_MECHANISM).toBeDefined();
      expect(secretRef('KAFKA_SASL_USERNAME')).toEqual({ name: values.kafka.sasl.existingSecret, key: values.kafka.sasl.usernameKey });
      expect(secretRef('KAFKA_SASL_PASSWORD')).toEqual({ name: values.kafka.sasl.existingSecret, key: values.kafka.sasl.passwordKey });
    } else {
      expect(envOf(c, 'KAFKA_SASL_PASSWORD')).toBeUndefined();
    }
    // The API key goes to the only stage that calls the provider.
    if (values.embedding.provider === 'gemini' && service === 'embed') {
      expect(secretRef('GEMINI_API_KEY')).toEqual({ name: values.embedding.gemini.existingSecret, key: values.embedding.gemini.existingSecretKey });
    } else {
      expect(envOf(c, 'GEMINI_API_KEY')).toBeUndefined();
    }
  });

  test.each(SERVICES)('%s: non-root, read-only root filesystem, resources, time to shut down gracefully', (service) => {
    const pod = deployment(service).spec!.template!.spec;
    const c = container(deployment(service));
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001 });
    expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
    expect(c.resources?.requests).toBeDefined();
    const graceMs = values.config.shutdownGraceMs ?? 25_000;
    expect(pod.terminationGracePeriodSeconds! * 1000).toBeGreaterThan(graceMs);
  });

  test('Kafka TLS: the CA Secret is mounted where KAFKA_SSL_CA_FILE points', () => {
    const data = configMap().data ?? {};
    if (!values.kafka.tls.enabled) {
      expect(data.KAFKA_SSL).toBeUndefined();
      return;
    }
    expect(data.KAFKA_SSL).toBe('true');
    for (const service of SERVICES) {
      const pod = deployment(service).spec!.template!.spec;
      const mount = container(deployment(service)).volumeMounts?.find((m) => m.name === 'kafka-ca');
      expect(pod.volumes).toContainEqual({ name: 'kafka-ca', secret: { secretName: values.kafka.tls.caSecret } });
      expect(data.KAFKA_SSL_CA_FILE).toBe(`${mount!.mountPath}/${values.kafka.tls.caKey}`);
    }
  });

  test('the store on LanceDB: one replica, Recreate on upgrade, its tables on a volume at LANCEDB_DIR', () => {
    const store = deployment('store');
    expect(store.spec!.replicas).toBe(1);
    expect(store.spec!.strategy).toEqual({ type: 'Recreate' });
    const c = container(store);
    const dir = envOf(c, 'LANCEDB_DIR')?.value;
    expect(c.volumeMounts).toContainEqual({ name: 'lancedb', mountPath: dir });
    expect(store.spec!.template!.spec.volumes).toContainEqual({ name: 'lancedb', persistentVolumeClaim: { claimName: `${RELEASE}-lancedb` } });
    expect(rendered.get('PersistentVolumeClaim', `${RELEASE}-lancedb`).metadata.annotations?.['helm.sh/resource-policy']).toBe('keep');
  });

  test('a PodDisruptionBudget per service, selecting exactly its pods', () => {
    for (const service of SERVICES) {
      const pdb = rendered.get('PodDisruptionBudget', `${RELEASE}-${service}`);
      const podLabels = deployment(service).spec!.template!.metadata!.labels!;
      expect(podLabels).toMatchObject(pdb.spec!.selector!.matchLabels!);
      expect(pdb.spec!.selector!.matchLabels!['app.kubernetes.io/component']).toBe(service);
      expect(pdb.spec!.maxUnavailable).toBe(1);
    }
  });

  test('the setup Job is a pre-install/pre-upgrade hook that migrates, then creates the topics (at setup.replicationFactor when set)', () => {
    const job = rendered.get('Job', `${RELEASE}-setup`);
    const annotations = job.metadata.annotations ?? {};
    expect(annotations['helm.sh/hook']!.split(',').sort()).toEqual(['pre-install', 'pre-upgrade']);
    expect(annotations['helm.sh/hook-delete-policy']!.split(',')).toEqual(expect.arrayContaining(['before-hook-creation', 'hook-succeeded']));
    const pod = job.spec!.template!.spec;
    expect(pod.restartPolicy).toBe('Never');
    // Init containers run in order: the schema exists before the topics (and the services) do.
    expect(pod.initContainers?.map((c) => c.args)).toEqual([['libs/cli/dist/main.js', 'migrate']]);
    // No --replication-factor unless set: the topics get the brokers' default.replication.factor.
    const replication = values.setup.replicationFactor === null ? [] : ['--replication-factor', String(values.setup.replicationFactor)];
    expect(pod.containers.map((c) => c.args)).toEqual([['libs/cli/dist/main.js', 'topics', 'create', '--partitions', String(values.setup.partitions), ...replication]]);
    // A pre-install hook runs before the chart's ConfigMap, Secret and ServiceAccount exist.
    expect(pod.serviceAccountName).toBe(values.setup.serviceAccountName || undefined);
    for (const c of [...pod.initContainers!, ...pod.containers]) {
      expect(c.envFrom).toBeUndefined();
      expect(envOf(c, 'KAFKA_BROKERS')?.value).toBe(values.kafka.brokers);
      expect((c.env ?? []).map((env) => env.name).filter((name) => !KNOWN.has(name))).toEqual([]);
      const database = envOf(c, 'DATABASE_URL')?.valueFrom?.secretKeyRef;
      if (values.database.existingSecret) {
        expect(database).toEqual({ name: values.database.existingSecret, key: values.database.existingSecretKey });
      } else {
        // The hook's own copy of the Secret, created before the Job (a lower hook weight).
        expect(database).toEqual({ name: `${RELEASE}-setup`, key: 'DATABASE_URL' });
        const secret = rendered.get('Secret', `${RELEASE}-setup`).metadata.annotations ?? {};
        expect(secret['helm.sh/hook']).toBe(annotations['helm.sh/hook']);
        expect(Number(secret['helm.sh/hook-weight'])).toBeLessThan(Number(annotations['helm.sh/hook-weight']));
      }
    }
  });

  test('the chart creates a Secret only for what no existingSecret provides', () => {
    const secret = rendered.find('Secret', RELEASE);
    if (values.database.existingSecret && values.kafka.sasl.existingSecret) {
      expect(secret).toBeUndefined();
    } else {
      expect(Object.keys(secret!.data!)).toContain('DATABASE_URL');
    }
  });
});

describe('the setup Job\'s replication factor', () => {
  const topicsArgs = (set: string[]) => render({ set }).get('Job', `${RELEASE}-setup`).spec!.template!.spec.containers[0]!.args;

  test('none by default: the topics get the brokers\' default.replication.factor', () => {
    expect(topicsArgs([])).toEqual(['libs/cli/dist/main.js', 'topics', 'create', '--partitions', '12']);
  });

  test('setup.replicationFactor, when set, as --replication-factor', () => {
    expect(topicsArgs(['setup.replicationFactor=3'])).toEqual(['libs/cli/dist/main.js', 'topics', 'create', '--partitions', '12', '--replication-factor', '3']);
  });
});
