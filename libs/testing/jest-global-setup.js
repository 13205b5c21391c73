// Starts the local Kafka broker before the integration tests run, unless KAFKA_BROKERS names another
// cluster or a broker already answers; jest-global-teardown.js stops it again, but only when this
// setup started it. PostgreSQL is expected on DATABASE_URL.
const { execFileSync } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');

const KAFKA = path.join(__dirname, '..', '..', 'deploy', 'kafka');

/** Whether something accepts connections on 127.0.0.1:port (what start.sh itself asks). */
function answers(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(2_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

module.exports = async () => {
  if (process.env.KAFKA_BROKERS) return;
  const port = Number(process.env.KAFKA_PORT ?? 9092);
  if (await answers(port)) return;
  execFileSync('bash', [path.join(KAFKA, 'start.sh')], { stdio: 'inherit' });
  // jest runs the global teardown in this same process, so a global carries the fact over.
  globalThis.__DOCINTEL_STARTED_BROKER__ = true;
};

module.exports.KAFKA = KAFKA;
