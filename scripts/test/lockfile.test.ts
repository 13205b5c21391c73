import path from 'node:path';
import { checkLockfile, findLockfileProblems, type Lockfile, type Manifest } from '../lockfile';

const root = path.resolve(__dirname, '..', '..');

/** A small, healthy project: a root with one workspace and two installed packages. */
function project(): { lock: Lockfile; manifests: Record<string, Manifest> } {
  const manifests: Record<string, Manifest> = {
    '': { name: 'app', version: '1.0.0', workspaces: ['libs/*'], devDependencies: { jest: '^30.0.0' } },
    'libs/core': { name: '@app/core', version: '0.1.0', dependencies: { pg: '^8.0.0' } },
  };
  const lock: Lockfile = {
    lockfileVersion: 3,
    packages: {
      '': { name: 'app', version: '1.0.0', workspaces: ['libs/*'], devDependencies: { jest: '^30.0.0' } },
      'libs/core': { name: '@app/core', version: '0.1.0', dependencies: { pg: '^8.0.0' } },
      'node_modules/@app/core': { resolved: 'libs/core', link: true },
      'node_modules/jest': { version: '30.5.2', dev: true, optionalDependencies: { 'jest-binding-win32': '1.0.0' } },
      'node_modules/pg': { version: '8.23.1' },
    },
  };
  return { lock, manifests };
}

describe('the lock-file check', () => {
  it("passes on the repository's own package-lock.json", () => {
    expect(checkLockfile(root)).toEqual([]);
  });

  it('passes on a healthy lock file', () => {
    const { lock, manifests } = project();
    expect(findLockfileProblems(lock, manifests)).toEqual([]);
  });

  it('names an entry without a version, as npm 11 writes for an optional platform package', () => {
    const { lock, manifests } = project();
    lock.packages!['node_modules/jest/node_modules/jest-binding-win32'] = { dev: true, optional: true };
    expect(findLockfileProblems(lock, manifests)).toEqual([
      '"node_modules/jest/node_modules/jest-binding-win32" has no version (npm ci fails with "Invalid Version"); run npm run lock',
    ]);
  });

  it('names an entry whose version is not semver', () => {
    const { lock, manifests } = project();
    lock.packages!['node_modules/pg']!.version = 'latest';
    expect(findLockfileProblems(lock, manifests)).toContain('"node_modules/pg" has version "latest", which is not a valid semver version');
  });

  it('names a dependency that a package.json declares and the lock file does not record', () => {
    const { lock, manifests } = project();
    manifests['libs/core']!.dependencies = { pg: '^8.0.0', kafkajs: '^2.2.4' };
    const problems = findLockfileProblems(lock, manifests);
    expect(problems).toContain(
      'libs/core/package.json has dependencies.kafkajs "^2.2.4" but the lock file\'s "libs/core" has (nothing); run npm run lock',
    );
    expect(problems).toContain('"libs/core" needs kafkajs@^2.2.4, which the lock file does not have');
  });

  it('names a range the locked version no longer satisfies', () => {
    const { lock, manifests } = project();
    manifests['']!.devDependencies = { jest: '^31.0.0' };
    lock.packages!['']!.devDependencies = { jest: '^31.0.0' };
    expect(findLockfileProblems(lock, manifests)).toEqual(['"(root)" needs jest@^31.0.0 but "node_modules/jest" is 30.5.2']);
  });

  it('names a workspace without its link, and a locked workspace that package.json lacks', () => {
    const { lock, manifests } = project();
    delete lock.packages!['node_modules/@app/core'];
    lock.packages!['libs/gone'] = { name: '@app/gone', version: '0.1.0' };
    expect(findLockfileProblems(lock, manifests)).toEqual([
      '"libs/gone" is in the lock file but is not a workspace of package.json',
      'workspace @app/core (libs/core) has no link "node_modules/@app/core" to "libs/core" in the lock file; run npm run lock',
    ]);
  });

  it('lets an optional dependency be absent (a platform package of another machine)', () => {
    const { lock, manifests } = project();
    expect(lock.packages!['node_modules/jest-binding-win32']).toBeUndefined();
    expect(findLockfileProblems(lock, manifests)).toEqual([]);
  });

  it('refuses a lock file of npm 6', () => {
    const { manifests } = project();
    expect(findLockfileProblems({ lockfileVersion: 1 }, manifests)).toEqual([
      'lockfileVersion is 1; npm 7 and later write version 3 with a "packages" map',
    ]);
  });
});
