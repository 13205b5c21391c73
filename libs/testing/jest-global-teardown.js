// Stops the local Kafka broker after the tests, when jest-global-setup.js started it (a broker that
// was running before the tests, a developer's own, is left running).
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { KAFKA } = require('./jest-global-setup');

module.exports = async () => {
  if (!globalThis.__DOCINTEL_STARTED_BROKER__) return;
  globalThis.__DOCINTEL_STARTED_BROKER__ = false;
  execFileSync('bash', [path.join(KAFKA, 'stop.sh')], { stdio: 'inherit' });
};
