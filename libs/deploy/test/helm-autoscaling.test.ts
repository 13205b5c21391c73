import type { ServiceName } from '@docintel/service';
import { ALL_ON_VALUES, RELEASE, render, type Rendered } from './helpers/helm';
import type { Manifest } from './helpers/k8s';
import { consumedTopic, defaultGroup, SERVICES } from './helpers/paths';

const PINECONE = ['vectorStore.kind=pinecone', 'vectorStore.pinecone.apiKey=key', 'vectorStore.pinecone.index=docs'];

function scaledObject(rendered: Rendered, service: ServiceName): Manifest {
  return rendered.get('ScaledObject', `${RELEASE}-${service}`);
}

function kafkaTrigger(rendered: Rendered, service: ServiceName) {
  const triggers = scaledObject(rendered, service).spec!.triggers!;
  expect(triggers).toHaveLength(1);
  expect(triggers[0]!.type).toBe('kafka');
  return triggers[0]!;
}

describe('autoscaling', () => {
  // One render per combination, shared by the tests below.
  const renders: Record<string, Rendered> = {};
  beforeAll(() => {
    renders.defaults = render();
    renders.allOn = render({ values: [ALL_ON_VALUES] });
    renders.kedaPrefix = render({ set: ['keda.enabled=true', 'kafka.topicPrefix=prod.', 'kafka.brokers=b1:9092\\,b2:9092'] });
    renders.kedaPinecone = render({ set: ['keda.enabled=true', 'replicas.store=3', ...PINECONE] });
    renders.hpa = render({ set: ['hpa.enabled=true'] });
  });

  test('off by default: fixed replicas, no ScaledObject, no HPA', () => {
    const rendered = renders.defaults!;
    expect(rendered.byKind('ScaledObject')).toEqual([]);
    expect(rendered.byKind('HorizontalPodAutoscaler')).toEqual([]);
    expect(rendered.byKind('TriggerAuthentication')).toEqual([]);
    expect(SERVICES.map((service) => rendered.get('Deployment', `${RELEASE}-${service}`).spec!.replicas)).toEqual([2, 2, 1, 1]);
  });

  test('KEDA scales each stage on its own group\'s lag on the topic it consumes, under the topic prefix', () => {
    const rendered = renders.kedaPrefix!;
    for (const service of ['fetch', 'embed', 'status'] as const) {
      const trigger = kafkaTrigger(rendered, service);
      expect(trigger.metadata).toMatchObject({
        bootstrapServers: 'b1:9092,b2:9092',
        consumerGroup: defaultGroup(service, 'prod.'),
        topic: consumedTopic(service, 'prod.'),
        // The services subscribe from the beginning, so a new group's backlog counts as lag.
        offsetResetPolicy: 'earliest',
      });
      expect(Number(trigger.metadata.lagThreshold)).toBeGreaterThan(0);
      expect(scaledObject(rendered, service).spec!.scaleTargetRef!.name).toBe(`${RELEASE}-${service}`);
      // The ScaledObject owns the replica count: a fixed one would be reset on every upgrade.
      expect(rendered.get('Deployment', `${RELEASE}-${service}`).spec!.replicas).toBeUndefined();
    }
  });

  test('KEDA never renders an HPA beside its ScaledObjects, even with the HPA switched on too', () => {
    for (const rendered of [renders.kedaPrefix!, renders.allOn!]) {
      expect(rendered.byKind('ScaledObject').length).toBeGreaterThan(0);
      expect(rendered.byKind('HorizontalPodAutoscaler')).toEqual([]);
    }
  });

  test('the store on LanceDB is never autoscaled: one writer per table', () => {
    for (const rendered of [renders.kedaPrefix!, renders.allOn!, renders.hpa!]) {
      expect(rendered.find('ScaledObject', `${RELEASE}-store`)).toBeUndefined();
      expect(rendered.find('HorizontalPodAutoscaler', `${RELEASE}-store`)).toBeUndefined();
      const store = rendered.get('Deployment', `${RELEASE}-store`);
      expect(store.spec!.replicas).toBe(1);
      expect(store.spec!.strategy?.type).toBe('Recreate');
    }
  });

  test('the store on Pinecone scales like the others, without the LanceDB volume', () => {
    const rendered = renders.kedaPinecone!;
    expect(kafkaTrigger(rendered, 'store').metadata).toMatchObject({ consumerGroup: defaultGroup('store'), topic: consumedTopic('store') });
    const store = rendered.get('Deployment', `${RELEASE}-store`);
    expect(store.spec!.replicas).toBeUndefined();
    expect(store.spec!.strategy).toBeUndefined();
    expect(store.spec!.template!.spec.volumes?.map((volume) => volume.name)).not.toContain('lancedb');
    expect(rendered.byKind('PersistentVolumeClaim')).toEqual([]);
    const env = store.spec!.template!.spec.containers[0]!.env ?? [];
    expect(env.find((e) => e.name === 'PINECONE_API_KEY')?.valueFrom?.secretKeyRef).toEqual({ name: RELEASE, key: 'PINECONE_API_KEY' });
    expect(env.find((e) => e.name === 'LANCEDB_DIR')).toBeUndefined();
    expect(rendered.get('ConfigMap', RELEASE).data).toMatchObject({ VECTOR_STORE: 'pinecone', PINECONE_INDEX: 'docs' });
    // The setup Job's Secret holds only what the Job needs.
    expect(Object.keys(rendered.get('Secret', `${RELEASE}-setup`).data!)).toEqual(['DATABASE_URL']);
  });

  test('with everything on: a custom CONSUMER_GROUP is the group KEDA watches, and SASL/TLS reach KEDA', () => {
    const rendered = renders.allOn!;
    expect(kafkaTrigger(rendered, 'fetch').metadata).toMatchObject({
      consumerGroup: 'staging.docintel-fetch',
      topic: 'staging.document.ingest',
      sasl: 'scram_sha512',
      tls: 'enable',
    });
    const status = kafkaTrigger(rendered, 'status');
    const statusEnv = rendered.get('Deployment', `${RELEASE}-status`).spec!.template!.spec.containers[0]!.env ?? [];
    expect(status.metadata.consumerGroup).toBe(statusEnv.find((env) => env.name === 'CONSUMER_GROUP')?.value);
    expect(status.metadata.topic).toBe('staging.document.status');

    const auth = rendered.get('TriggerAuthentication', `${RELEASE}-kafka`);
    for (const service of ['fetch', 'embed', 'status'] as const) {
      expect(kafkaTrigger(rendered, service).authenticationRef).toEqual({ name: auth.metadata.name });
    }
    expect(auth.spec!.secretTargetRef).toEqual([
      { parameter: 'username', name: 'kafka-user', key: 'user' },
      { parameter: 'password', name: 'kafka-user', key: 'password' },
      { parameter: 'ca', name: 'kafka-ca', key: 'ca.crt' },
    ]);
  });

  test('the HPA, when KEDA is off, scales the stages that may scale', () => {
    const rendered = renders.hpa!;
    const hpas = rendered.byKind('HorizontalPodAutoscaler');
    expect(hpas.map((hpa) => hpa.spec!.scaleTargetRef!.name).sort()).toEqual(['fetch', 'embed', 'status'].map((s) => `${RELEASE}-${s}`).sort());
    for (const hpa of hpas) {
      expect(hpa.spec!.scaleTargetRef!.kind).toBe('Deployment');
      expect(rendered.get('Deployment', hpa.spec!.scaleTargetRef!.name).spec!.replicas).toBeUndefined();
    }
  });

  test('the ServiceMonitor scrapes every stage\'s /metrics and keeps the services\' own service label', () => {
    expect(renders.defaults!.byKind('ServiceMonitor')).toEqual([]);
    const monitor = renders.allOn!.get('ServiceMonitor', RELEASE);
    expect(monitor.metadata.labels).toMatchObject({ release: 'prometheus' });
    expect(monitor.spec!.endpoints).toEqual([expect.objectContaining({ port: 'http', path: '/metrics', honorLabels: true })]);
    for (const service of SERVICES) {
      const svc = renders.allOn!.get('Service', `${RELEASE}-${service}`);
      expect(svc.metadata.labels).toMatchObject(monitor.spec!.selector!.matchLabels!);
      expect(svc.spec!.ports!.map((port) => port.name)).toContain('http');
    }
  });

  test('numbers reach the services as plain integers (a million is not 1e+06)', () => {
    for (const rendered of Object.values(renders)) {
      for (const [name, value] of Object.entries(rendered.get('ConfigMap', RELEASE).data ?? {})) {
        expect(`${name}=${value}`).not.toMatch(/\d(\.\d+)?e[+-]?\d/);
      }
    }
    expect(renders.allOn!.get('ConfigMap', RELEASE).data).toMatchObject({
      TENANT_DAILY_TOKEN_BUDGET: '5000000',
      TENANT_DAILY_TOKEN_BUDGETS: 'acme=20000000,globex=1000000',
      MAX_DOCUMENT_BYTES: '10485760',
      PARSE_WORKERS: '3',
      PARSE_MEMORY_MB: '768',
      PARSE_TIMEOUT_MS: '20000',
      MAX_EXTRACTED_CHARS: '100000000',
      MAX_DECOMPRESSED_BYTES: '268435456',
      MAX_DECOMPRESSION_RATIO: '50',
    });
  });
});
