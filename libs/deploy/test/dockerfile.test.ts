import { existsSync, readFileSync } from 'node:fs';
import { repoPath, SERVICES } from './helpers/paths';
import { deployedSources } from './helpers/sources';

interface Stage {
  name: string;
  from: string;
  /** Instructions with their continuation lines joined. */
  instructions: Array<{ keyword: string; args: string }>;
}

/** The Dockerfile's stages, with `${ARG}`s in FROM lines replaced by the ARG's default. */
function stages(text: string): Stage[] {
  const args = new Map<string, string>();
  const result: Stage[] = [];
  const logical = text.replace(/\\\n/g, ' ').split('\n').filter((line) => line.trim() !== '' && !line.trim().startsWith('#'));
  for (const line of logical) {
    const [, keyword = '', rest = ''] = /^\s*(\w+)\s+(.*)$/.exec(line) ?? [];
    if (keyword === 'ARG' && result.length === 0) {
      const [name = '', value = ''] = rest.split('=');
      args.set(name, value);
    } else if (keyword === 'FROM') {
      const [image = '', , name] = rest.split(/\s+/);
      const from = image.replace(/\$\{(\w+)\}/g, (_, arg: string) => args.get(arg) ?? '');
      result.push({ name: name ?? `stage${result.length}`, from, instructions: [] });
    } else {
      result.at(-1)?.instructions.push({ keyword, args: rest.trim() });
    }
  }
  return result;
}

const dockerfile = stages(readFileSync(repoPath('Dockerfile'), 'utf8'));
const final = dockerfile.at(-1)!;
const runs = (stage: Stage) => stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n');
const copiesFrom = (stage: Stage) =>
  stage.instructions.filter((i) => i.keyword === 'COPY').map((i) => /--from=(\S+)/.exec(i.args)?.[1]).filter((from): from is string => from !== undefined);

describe('Dockerfile', () => {
  test('every stage is node:24-bookworm-slim', () => {
    expect(dockerfile.length).toBeGreaterThanOrEqual(3);
    for (const stage of dockerfile) expect(stage.from).toBe('node:24-bookworm-slim');
  });

  test('a build stage installs everything and compiles every workspace', () => {
    const build = dockerfile.find((stage) => /npm ci(?![^\n]*--omit=dev)/.test(runs(stage)) && /tsc -b/.test(runs(stage)));
    expect(build).toBeDefined();
    expect(copiesFrom(final)).toContain(build!.name);
    // What it hands over: each workspace's dist/ and libs/db's migrations/.
    expect(runs(build!)).toMatch(/for dir in libs\/\* services\/\*/);
    expect(runs(build!)).toContain('migrations');
  });

  test('the final image gets its node_modules from a production-only install', () => {
    const prod = dockerfile.find((stage) => /npm ci [^\n]*--omit=dev/.test(runs(stage)));
    expect(prod).toBeDefined();
    expect(prod).not.toBe(final);
    expect(copiesFrom(final)).toContain(prod!.name);
    expect(runs(final)).not.toMatch(/npm (ci|install)/);
  });

  test('the packages the image prunes are imported by no source that runs in it', () => {
    const pruned = [...runs(dockerfile.find((stage) => /--omit=dev/.test(runs(stage)))!).matchAll(/node_modules\/(@[\w.-]+(?:\/[\w.*-]+)?|[\w.-]+)/g)]
      .map((match) => match[1]!)
      .filter((name) => !name.includes('*'));
    expect(pruned).toEqual(expect.arrayContaining(['@huggingface', 'onnxruntime-node', 'sharp']));
    const imports = deployedSources().flatMap((file) => [...readFileSync(file, 'utf8').matchAll(/from '([^']+)'|require\('([^']+)'\)|import\('([^']+)'\)/g)].map((m) => m[1] ?? m[2] ?? m[3]!));
    expect(imports.filter((name) => pruned.some((prefix) => name === prefix || name.startsWith(`${prefix}/`)))).toEqual([]);
  });

  test('the workspaces the manifests glob picks up are the root package.json\'s', () => {
    const { workspaces } = JSON.parse(readFileSync(repoPath('package.json'), 'utf8')) as { workspaces: string[] };
    expect([...workspaces].sort()).toEqual(['libs/*', 'services/*']);
    expect(runs(dockerfile[0]!)).toContain('libs/*/package.json services/*/package.json');
  });

  test('runs as uid 10001 with node as the entrypoint and the fetch service by default', () => {
    const get = (keyword: string) => final.instructions.filter((i) => i.keyword === keyword).map((i) => i.args);
    expect(get('USER')).toEqual(['10001:10001']);
    expect(runs(final)).toContain('--uid 10001');
    expect(get('ENTRYPOINT')).toEqual(['["node"]']);
    expect(get('CMD')).toEqual(['["services/fetch/dist/main.js"]']);
  });

  test('the entry points the chart and Compose run are built from sources that exist', () => {
    for (const service of SERVICES) expect(existsSync(repoPath('services', service, 'src', 'main.ts'))).toBe(true);
    expect(existsSync(repoPath('libs', 'cli', 'src', 'main.ts'))).toBe(true);
    expect(existsSync(repoPath('libs', 'db', 'migrations'))).toBe(true);
  });

  test('.dockerignore keeps local installs, builds and data out of the context', () => {
    const ignored = readFileSync(repoPath('.dockerignore'), 'utf8').split('\n').map((line) => line.trim());
    for (const pattern of ['**/node_modules', '**/dist', '.data', 'deploy/kafka/.cache']) expect(ignored).toContain(pattern);
  });
});
