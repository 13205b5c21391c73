/**
 * The parts of Kubernetes objects (and of KEDA's and the Prometheus Operator's) that the tests read.
 * Every field is optional: a test asserts that what it needs is there.
 */
export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string } };
}

export interface Probe {
  httpGet?: { path: string; port: string | number };
  periodSeconds?: number;
  failureThreshold?: number;
}

export interface Container {
  name: string;
  image?: string;
  args?: string[];
  ports?: Array<{ name?: string; containerPort: number }>;
  env?: EnvVar[];
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  securityContext?: { readOnlyRootFilesystem?: boolean; allowPrivilegeEscalation?: boolean };
}

export interface Volume {
  name: string;
  secret?: { secretName: string };
  persistentVolumeClaim?: { claimName: string };
  emptyDir?: object;
}

export interface PodSpec {
  containers: Container[];
  initContainers?: Container[];
  volumes?: Volume[];
  restartPolicy?: string;
  serviceAccountName?: string;
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; fsGroup?: number };
}

export interface KafkaTrigger {
  type: string;
  metadata: Record<string, string>;
  authenticationRef?: { name: string };
}

export interface Spec {
  // Deployment, Job
  replicas?: number;
  strategy?: { type: string };
  /** A Deployment's or PodDisruptionBudget's `{ matchLabels }`, a Service's plain label map. */
  selector?: { matchLabels?: Record<string, string> } & Record<string, unknown>;
  template?: { metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> }; spec: PodSpec };
  // Service
  ports?: Array<{ name: string; port: number; targetPort: string | number }>;
  // PodDisruptionBudget
  maxUnavailable?: number | string;
  // ScaledObject, HorizontalPodAutoscaler
  scaleTargetRef?: { name: string; kind?: string };
  minReplicaCount?: number;
  maxReplicaCount?: number;
  triggers?: KafkaTrigger[];
  // TriggerAuthentication
  secretTargetRef?: Array<{ parameter: string; name: string; key: string }>;
  // ServiceMonitor
  endpoints?: Array<{ port: string; path: string; honorLabels?: boolean }>;
  // PersistentVolumeClaim
  accessModes?: string[];
}

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: Spec;
  data?: Record<string, string>;
}
