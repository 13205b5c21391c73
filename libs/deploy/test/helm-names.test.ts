import { ALL_ON_VALUES, render, type Rendered } from './helpers/helm';
import type { Manifest } from './helpers/k8s';
import { SERVICES } from './helpers/paths';

/** As long as helm allows a release name (53), and without the chart's name in it, so the full name is `<release>-docintel`. */
const LONG_RELEASE = 'a-release-name-as-long-as-helm-allows-'.padEnd(53, 'x');
/** A DNS-1123 label: what a Service's (and most objects') name must be, and at most 63 characters. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A label value: at most 63 characters, alphanumerics at both ends. */
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

const PINECONE = ['vectorStore.kind=pinecone', 'vectorStore.pinecone.apiKey=key', 'vectorStore.pinecone.index=docs'];
/** Every optional part on: ci/all-on-values.yaml, and the chart's own Secret (no existing one for the database). */
const ALL_ON = { values: [ALL_ON_VALUES], set: ['database.existingSecret='] };

/** Every label map of an object: its own, its pods', and the selectors. */
function labelMaps(manifest: Manifest): Array<Record<string, string>> {
  const maps: Array<Record<string, string>> = [];
  const walk = (node: unknown, key?: string) => {
    if (node === null || typeof node !== 'object') return;
    if (key === 'labels' || key === 'matchLabels' || (key === 'selector' && manifest.kind === 'Service')) maps.push(node as Record<string, string>);
    for (const [child, value] of Object.entries(node)) walk(value, child);
  };
  walk(manifest);
  return maps;
}

function byKind(manifests: Manifest[]): Map<string, string[]> {
  const names = new Map<string, string[]>();
  for (const manifest of manifests) names.set(manifest.kind, [...(names.get(manifest.kind) ?? []), manifest.metadata.name]);
  return names;
}

describe(`the chart under a ${LONG_RELEASE.length}-character release name`, () => {
  const renders: Record<string, Rendered> = {};
  beforeAll(() => {
    // Together they render every kind the chart has: KEDA with LanceDB (a PVC, no store autoscaler),
    // KEDA on Pinecone (the store's ScaledObject), the HPA on Pinecone.
    renders.kedaLancedb = render({ ...ALL_ON, release: LONG_RELEASE });
    renders.kedaPinecone = render({ ...ALL_ON, set: [...ALL_ON.set, ...PINECONE], release: LONG_RELEASE });
    renders.hpaPinecone = render({ ...ALL_ON, set: [...ALL_ON.set, ...PINECONE, 'keda.enabled=false'], release: LONG_RELEASE });
  });

  test('the release name is helm\'s longest', () => {
    expect(LONG_RELEASE).toHaveLength(53);
    expect(LONG_RELEASE).toMatch(DNS_LABEL);
  });

  test('every kind of object is rendered', () => {
    const kinds = new Set(Object.values(renders).flatMap((rendered) => rendered.manifests.map((manifest) => manifest.kind)));
    expect([...kinds].sort()).toEqual([
      'ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'Job', 'PersistentVolumeClaim', 'PodDisruptionBudget', 'ScaledObject',
      'Secret', 'Service', 'ServiceAccount', 'ServiceMonitor', 'TriggerAuthentication',
    ]);
  });

  test.each(['kedaLancedb', 'kedaPinecone', 'hpaPinecone'])('%s: every name is a DNS label of at most 63 characters, unique in its kind, with the whole release name in it', (key) => {
    const rendered = renders[key]!;
    const tooLong = rendered.manifests.filter((m) => m.metadata.name.length > 63 || !DNS_LABEL.test(m.metadata.name)).map((m) => `${m.kind}/${m.metadata.name}`);
    expect(tooLong).toEqual([]);
    for (const [kind, names] of byKind(rendered.manifests)) expect({ kind, names: [...new Set(names)].sort() }).toEqual({ kind, names: [...names].sort() });
    for (const manifest of rendered.manifests) expect(manifest.metadata.name.startsWith(LONG_RELEASE)).toBe(true);
  });

  test.each(['kedaLancedb', 'kedaPinecone', 'hpaPinecone'])('%s: every label value has at most 63 characters', (key) => {
    const bad = renders[key]!.manifests.flatMap((manifest) =>
      labelMaps(manifest).flatMap((labels) =>
        Object.entries(labels)
          .filter(([, value]) => String(value).length > 63 || !LABEL_VALUE.test(String(value)))
          .map(([label, value]) => `${manifest.kind}/${manifest.metadata.name}: ${label}=${value}`),
      ),
    );
    expect(bad).toEqual([]);
  });

  test('the stages\' objects keep their suffix, and every reference names an object that is there', () => {
    const rendered = renders.kedaPinecone!;
    const lancedb = renders.kedaLancedb!;
    for (const service of SERVICES) {
      for (const kind of ['Deployment', 'Service', 'PodDisruptionBudget', 'ScaledObject']) {
        expect(rendered.byKind(kind).filter((m) => m.metadata.name.endsWith(`-${service}`))).toHaveLength(1);
      }
    }
    for (const scaled of [...rendered.byKind('ScaledObject'), ...renders.hpaPinecone!.byKind('HorizontalPodAutoscaler')]) {
      const deployment = scaled.spec!.scaleTargetRef!.name;
      expect(scaled.metadata.name).toBe(deployment);
      expect(rendered.find('Deployment', deployment)).toBeDefined();
      for (const trigger of scaled.spec!.triggers ?? []) {
        if (trigger.authenticationRef) expect(rendered.find('TriggerAuthentication', trigger.authenticationRef.name)).toBeDefined();
      }
    }
    const store = lancedb.byKind('Deployment').find((m) => m.metadata.name.endsWith('-store'))!;
    const claim = store.spec!.template!.spec.volumes!.find((volume) => volume.name === 'lancedb')!.persistentVolumeClaim!.claimName;
    expect(claim.endsWith('-lancedb')).toBe(true);
    expect(lancedb.find('PersistentVolumeClaim', claim)).toBeDefined();
    // The chart's own Secrets and ConfigMap, wherever a pod refers to them (the others are existingSecrets of the values).
    for (const r of [rendered, lancedb]) {
      for (const workload of [...r.byKind('Deployment'), ...r.byKind('Job')]) {
        const pod = workload.spec!.template!.spec;
        for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
          for (const ref of c.envFrom ?? []) if (ref.configMapRef?.name.startsWith(LONG_RELEASE)) expect(r.find('ConfigMap', ref.configMapRef.name)).toBeDefined();
          for (const env of c.env ?? []) {
            const secret = env.valueFrom?.secretKeyRef?.name;
            if (secret?.startsWith(LONG_RELEASE)) expect({ env: env.name, secret: r.find('Secret', secret)?.metadata.name }).toEqual({ env: env.name, secret });
          }
        }
      }
      const job = r.byKind('Job')[0]!;
      const database = job.spec!.template!.spec.containers[0]!.env!.find((env) => env.name === 'DATABASE_URL')!.valueFrom!.secretKeyRef!.name;
      expect(database.endsWith('-setup')).toBe(true);
    }
  });
});

describe('a full name that fills the 63 characters and ends in a suffix of its own', () => {
  test.each([63, 62])('%i characters ending in "-setup": the setup Secret still differs from the chart\'s Secret', (length) => {
    const fullname = `${'f'.repeat(length - '-setup'.length)}-setup`;
    const rendered = render({ set: [`fullnameOverride=${fullname}`] });
    const secrets = rendered.byKind('Secret').map((secret) => secret.metadata.name);
    expect(secrets).toHaveLength(2);
    expect(new Set(secrets).size).toBe(2);
    expect(secrets).toContain(fullname);
    const setup = secrets.find((name) => name !== fullname)!;
    expect(setup.length).toBeLessThanOrEqual(63);
    expect(setup.endsWith('-setup')).toBe(true);
    const job = rendered.byKind('Job')[0]!;
    expect(job.metadata.name).toBe(setup);
    expect(job.spec!.template!.spec.containers[0]!.env!.find((env) => env.name === 'DATABASE_URL')!.valueFrom!.secretKeyRef!.name).toBe(setup);
  });
});
