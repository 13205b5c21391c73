import path from 'node:path';

/** The repository root (libs/cli/{src,dist} -> ../../..). */
export const ROOT = path.resolve(__dirname, '..', '..', '..');
/** Local state of the embedded stack: vectors, logs, pids. `DOCINTEL_HOME` moves it. */
export function homeDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.DOCINTEL_HOME ?? path.join(ROOT, '.data'));
}
