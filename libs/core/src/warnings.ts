/**
 * kafkajs computes some timer delays as `deadline - Date.now()`, which can be negative; Node 24
 * warns about each (TimeoutNegativeWarning) and clamps the delay to 1 ms, which is what kafkajs
 * means. Drops that warning and prints every other one as Node would.
 */
export function quietKnownWarnings(): void {
  process.removeAllListeners('warning');
  process.on('warning', (warning) => {
    if (warning.name === 'TimeoutNegativeWarning') return;
    process.stderr.write(`${warning.name}: ${warning.message}\n`);
  });
}
