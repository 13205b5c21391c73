import { readFileSync } from 'node:fs';
import path from 'node:path';
import { SUPPORTED_NODE_MAJOR, assertSupportedNode } from '../src/runtime';

describe('assertSupportedNode', () => {
  it('refuses an older Node, saying which to use and how', () => {
    expect(() => assertSupportedNode('the fetch service', '20.20.2', '/usr/bin/node')).toThrow(
      'the fetch service needs Node.js 24, but runs on Node.js 20.20.2 (/usr/bin/node). The project brings its own: run it through npm',
    );
  });

  it('accepts the supported Node and newer ones', () => {
    expect(() => assertSupportedNode('docintel', '24.0.0')).not.toThrow();
    expect(() => assertSupportedNode('docintel', '24.21.0')).not.toThrow();
    expect(() => assertSupportedNode('docintel')).not.toThrow(); // the tests themselves run on it
  });

  it("agrees with the root package.json's engines", () => {
    const manifest = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { engines: { node: string } };
    expect(manifest.engines.node).toBe(`>=${SUPPORTED_NODE_MAJOR} <${SUPPORTED_NODE_MAJOR + 1}`);
  });
});
