/**
 * The Node.js the project runs on. The root package.json's `engines` says the same
 * (`>=24 <25`; a test keeps the two in step). An older Node fails in ways that look like the
 * input's fault (pdf.js on Node 20: `Promise.withResolvers is not a function`, on every PDF), so the
 * services and the CLI refuse to start on one.
 */
export const SUPPORTED_NODE_MAJOR = 24;

/**
 * Throws, saying which Node to use, when `version` (default: this process's) is older than
 * {@link SUPPORTED_NODE_MAJOR}. `what` names the program, e.g. "the fetch service".
 */
export function assertSupportedNode(what: string, version: string = process.versions.node, execPath: string = process.execPath): void {
  const major = Number(version.split('.')[0]);
  if (Number.isInteger(major) && major >= SUPPORTED_NODE_MAJOR) return;
  throw new Error(
    `${what} needs Node.js ${SUPPORTED_NODE_MAJOR}, but runs on Node.js ${version} (${execPath}). ` +
      `The project brings its own: run it through npm (npm start, npm run docintel -- ..., npx docintel ...) ` +
      `or as node_modules/.bin/node <file>, after npm ci.`,
  );
}
