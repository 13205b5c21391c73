#!/usr/bin/env node
// The `docintel` command (`npx docintel ...`). It is a file of its own, committed, rather than the
// built dist/main.js, because npm links a workspace's bins when it installs, which is before the
// build has written dist/: a bin that does not exist then is never linked.
'use strict';
const path = require('node:path');

const built = path.join(__dirname, '..', 'dist', 'main.js');
let cli;
try {
  cli = require(built);
} catch (error) {
  if (error && error.code === 'MODULE_NOT_FOUND' && String(error.message).includes(built)) {
    process.stderr.write('docintel: the CLI is not built yet; run `npm run build` (or `npm start`) in the repository first\n');
    process.exit(1);
  }
  throw error;
}
cli.main(process.argv.slice(2));
