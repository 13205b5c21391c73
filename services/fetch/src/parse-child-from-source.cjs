// Starts parse-child.ts from its TypeScript source, for jest (which runs fetch from src/): our .ts
// files are compiled to CommonJS by typescript as they are required, and @docintel/<lib> maps to
// libs/<lib>/src as in jest.config.js. The built service never uses this: dist/ has parse-child.js.
// Usage: node parse-child-from-source.cjs <the .ts file to run>
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const Module = require('node:module');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '../../..');
// Compiled files are kept between runs, since each test starts several parse processes; the
// compiler itself (half a second to load) only when one is missing.
const CACHE = path.join(os.tmpdir(), `docintel-parse-child-${require('typescript/package.json').version}`);
fs.mkdirSync(CACHE, { recursive: true });

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  const lib = /^@docintel\/([a-z-]+)$/.exec(request);
  return resolveFilename.call(this, lib ? path.join(ROOT, 'libs', lib[1], 'src', 'index.ts') : request, ...rest);
};

Module._extensions['.ts'] = (module, filename) => {
  const source = fs.readFileSync(filename, 'utf8');
  const cached = path.join(CACHE, `${crypto.createHash('sha256').update(filename).update('\0').update(source).digest('hex')}.js`);
  let output;
  try {
    output = fs.readFileSync(cached, 'utf8');
  } catch {
    const ts = require('typescript');
    output = ts.transpileModule(source, {
      fileName: filename,
      compilerOptions: { module: ts.ModuleKind.NodeNext, target: ts.ScriptTarget.ES2023, esModuleInterop: true, inlineSourceMap: true },
    }).outputText;
    const temporary = `${cached}.${process.pid}`;
    fs.writeFileSync(temporary, output);
    fs.renameSync(temporary, cached);
  }
  module._compile(output, filename);
};

require(path.resolve(process.argv[2]));
