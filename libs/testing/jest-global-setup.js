// Starts the local Kafka broker (or does nothing when KAFKA_BROKERS names another cluster, or one is
// already running) before the integration tests run. PostgreSQL is expected on DATABASE_URL.
const { execFileSync } = require('node:child_process');
const path = require('node:path');

module.exports = async () => {
  if (process.env.KAFKA_BROKERS) return;
  execFileSync('bash', [path.join(__dirname, '..', '..', 'deploy', 'kafka', 'start.sh')], { stdio: 'inherit' });
};
