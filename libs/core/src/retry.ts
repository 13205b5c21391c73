import { classifyError, DocintelError } from './errors';

export interface RetryOptions {
  /** Tries in all, the first included. @default 3 */
  attempts?: number;
  /** First backoff; doubles each time, with jitter. @default 100 */
  baseDelayMs?: number;
  /** @default 2_000 */
  maxDelayMs?: number;
  /** Called before each wait, e.g. to count or log. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
}

/**
 * Runs `work` again after a short backoff while it fails with a retriable error: a blip of a
 * dependency costs milliseconds here instead of a trip through a retry tier. An error that carries
 * `details.retryAfterMs` (a 429's Retry-After) waits at least that long. Non-retriable errors, and
 * the last failure, are thrown as they are.
 */
export async function retrying<T>(work: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const { retriable, code } = classifyError(error);
      // An open circuit answers at once and will for a while: the consumer pauses instead.
      if (attempt >= attempts || !retriable || code === 'CIRCUIT_OPEN') throw error;
      const backoff = Math.min(options.maxDelayMs ?? 2_000, (options.baseDelayMs ?? 100) * 2 ** (attempt - 1));
      const retryAfter = error instanceof DocintelError ? Number(error.details?.retryAfterMs ?? 0) : 0;
      const delay = Math.max(retryAfter, backoff * (0.5 + Math.random() / 2));
      options.onRetry?.(error, attempt, delay);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
