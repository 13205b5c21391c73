import type { Logger } from './logger';

export interface ShutdownOptions {
  logger: Logger;
  /** Hard limit for the whole shutdown, after which the process exits with code 1. @default 25_000 */
  graceMs?: number;
  /** Cleanups run in order; each runs even when an earlier one throws. */
  steps: Array<{ name: string; run: () => Promise<void> }>;
}

/**
 * Installs SIGTERM/SIGINT handlers that run the steps once (a second signal is ignored) and exit.
 * Returns the shutdown function itself so a fatal error can use the same path.
 */
export function installShutdown(options: ShutdownOptions): (reason: string, exitCode?: number) => Promise<void> {
  let started = false;
  const graceMs = options.graceMs ?? 25_000;
  const shutdown = async (reason: string, exitCode = 0): Promise<void> => {
    if (started) return;
    started = true;
    options.logger.info('shutting down', { reason });
    const timer = setTimeout(() => {
      options.logger.error('shutdown took too long; exiting', { graceMs });
      process.exit(1);
    }, graceMs);
    timer.unref();
    let code = exitCode;
    for (const step of options.steps) {
      try {
        await step.run();
      } catch (error) {
        code = 1;
        options.logger.error('shutdown step failed', { step: step.name, error });
      }
    }
    clearTimeout(timer);
    options.logger.info('stopped', { exitCode: code });
    // Let winston flush its last line before the process goes.
    setImmediate(() => process.exit(code));
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  return shutdown;
}
