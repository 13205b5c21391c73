/**
 * Checks package-lock.json against itself and against the package.json files, so that a lock file
 * `npm ci` would refuse never lands. `npm ci` fails with "Invalid Version:" on an entry without a
 * version (npm 11 writes `{ "optional": true }` for an optional platform package whose manifest it
 * could not read whole), and with "can only install packages when your package.json and
 * package-lock.json are in sync" on a lock that lags a package.json. Each problem names the entry.
 *
 * Run by `npm run lint` (scripts/check-lockfile.mts); `npm run lock` repairs the usual causes.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import semver from 'semver';

/** The parts of a package.json (or of a lock file's package entry) that the check reads. */
export interface Manifest {
  name?: string;
  version?: string;
  workspaces?: string[];
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

export interface LockEntry extends Manifest {
  link?: boolean;
  resolved?: string;
  optional?: boolean;
  dev?: boolean;
}

export interface Lockfile {
  lockfileVersion?: number;
  packages?: Record<string, LockEntry>;
}

const DECLARED = ['dependencies', 'devDependencies', 'optionalDependencies'] as const;

/**
 * The problems of a lock file, given the manifests of the root (key '') and of every workspace (key:
 * its folder relative to the root, e.g. 'libs/core'). An empty list means `npm ci` can use it.
 */
export function findLockfileProblems(lock: Lockfile, manifests: Record<string, Manifest>): string[] {
  const problems: string[] = [];
  const packages = lock.packages;
  if ((lock.lockfileVersion ?? 0) < 2 || !packages) {
    return [`lockfileVersion is ${lock.lockfileVersion ?? 'missing'}; npm 7 and later write version 3 with a "packages" map`];
  }

  for (const [key, entry] of Object.entries(packages)) {
    if (key === '' || entry.link) continue;
    if (!entry.version) {
      problems.push(`"${key}" has no version (npm ci fails with "Invalid Version"); run npm run lock`);
    } else if (!semver.valid(entry.version)) {
      problems.push(`"${key}" has version "${entry.version}", which is not a valid semver version`);
    }
  }

  const workspaces = Object.keys(manifests).filter((key) => key !== '');
  const lockedWorkspaces = Object.keys(packages).filter((key) => key !== '' && !key.split('/').includes('node_modules'));
  for (const key of lockedWorkspaces) {
    if (!(key in manifests)) problems.push(`"${key}" is in the lock file but is not a workspace of package.json`);
  }

  for (const [key, manifest] of Object.entries(manifests)) {
    const locked = packages[key];
    const where = key === '' ? 'the root package.json' : `${key}/package.json`;
    if (!locked) {
      problems.push(`${where} has no entry "${key}" in the lock file; run npm run lock`);
      continue;
    }
    if (key !== '' && locked.version !== manifest.version) {
      problems.push(`"${key}" is locked at version ${locked.version ?? '(none)'} but ${where} says ${manifest.version ?? '(none)'}`);
    }
    for (const field of DECLARED) {
      const declared = manifest[field] ?? {};
      const recorded = locked[field] ?? {};
      for (const name of new Set([...Object.keys(declared), ...Object.keys(recorded)])) {
        if (declared[name] !== recorded[name]) {
          problems.push(
            `${where} has ${field}.${name} ${quote(declared[name])} but the lock file's "${key}" has ${quote(recorded[name])}; run npm run lock`,
          );
        }
      }
    }
  }

  for (const key of workspaces) {
    const name = manifests[key]?.name;
    if (!name) continue;
    const link = packages[`node_modules/${name}`];
    if (!link?.link || link.resolved !== key) {
      problems.push(`workspace ${name} (${key}) has no link "node_modules/${name}" to "${key}" in the lock file; run npm run lock`);
    }
  }

  // Every dependency of every locked package (and of the root and the workspaces) resolves, the way
  // Node and npm look it up, to a locked package whose version satisfies the declared range.
  for (const [key, entry] of Object.entries(packages)) {
    if (entry.link) continue;
    const declaring = key in manifests ? (manifests[key] ?? entry) : entry;
    for (const field of [...DECLARED, 'peerDependencies'] as const) {
      for (const [name, range] of Object.entries(declaring[field] ?? {})) {
        const optional =
          field === 'optionalDependencies' || (field === 'peerDependencies' && declaring.peerDependenciesMeta?.[name]?.optional === true);
        // devDependencies of installed packages are never installed; peers are the installer's choice.
        if (field === 'devDependencies' && !(key in manifests)) continue;
        const found = resolve(packages, key, name);
        if (!found) {
          if (!optional && field !== 'peerDependencies') problems.push(`"${key || '(root)'}" needs ${name}@${range}, which the lock file does not have`);
          continue;
        }
        const version = found.entry.version;
        if (!version || !semver.valid(version) || !semver.validRange(range)) continue;
        if (!semver.satisfies(version, range, { includePrerelease: true })) {
          problems.push(`"${key || '(root)'}" needs ${name}@${range} but "${found.key}" is ${version}`);
        }
      }
    }
  }
  return problems;
}

function quote(value: string | undefined): string {
  return value === undefined ? '(nothing)' : `"${value}"`;
}

/** Node's lookup: `<key>/node_modules/<name>`, then each enclosing node_modules, then the root's. */
function resolve(packages: Record<string, LockEntry>, from: string, name: string): { key: string; entry: LockEntry } | undefined {
  let base = from;
  for (;;) {
    const key = base === '' ? `node_modules/${name}` : `${base}/node_modules/${name}`;
    const entry = packages[key];
    if (entry) {
      if (entry.link && entry.resolved !== undefined) {
        const target = packages[entry.resolved];
        return target ? { key: entry.resolved, entry: target } : undefined;
      }
      return { key, entry };
    }
    if (base === '') return undefined;
    const cut = base.lastIndexOf('/node_modules/');
    base = cut >= 0 ? base.slice(0, cut) : '';
  }
}

/** The root's package.json and those of the workspaces its `workspaces` globs (`dir/*`) name. */
export function readManifests(root: string): Record<string, Manifest> {
  const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  const rootManifest = read(path.join(root, 'package.json'));
  const manifests: Record<string, Manifest> = { '': rootManifest };
  for (const pattern of rootManifest.workspaces ?? []) {
    const folders = pattern.endsWith('/*')
      ? readdirSync(path.join(root, pattern.slice(0, -2)), { withFileTypes: true })
          .filter((dirent) => dirent.isDirectory())
          .map((dirent) => `${pattern.slice(0, -2)}/${dirent.name}`)
      : [pattern];
    for (const folder of folders) {
      const file = path.join(root, folder, 'package.json');
      if (existsSync(file)) manifests[folder] = read(file);
    }
  }
  return manifests;
}

/** The problems of `<root>/package-lock.json`. */
export function checkLockfile(root: string): string[] {
  const lock = JSON.parse(readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as Lockfile;
  return findLockfileProblems(lock, readManifests(root));
}
