import { ConfigError, envInt, envOptional, TransientError, type Env } from '@docintel/core';
import { toDatabaseError, type Queryable } from '@docintel/db';

export interface QuotaConfig {
  /** Provider requests per minute for the whole deployment; undefined: no limit. */
  requestsPerMinute: number | undefined;
  /** Provider input tokens per minute for the whole deployment; undefined: no limit. */
  tokensPerMinute: number | undefined;
  /** Longest a request waits for the next window before failing as rate limited. @default 90_000 */
  maxWaitMs: number;
}

function positive(env: Env, name: string): number | undefined {
  const text = envOptional(env, name);
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text) || Number(text) < 1) throw new ConfigError(name, `must be a positive whole number, got "${text}"`);
  return Number(text);
}

/** `EMBEDDING_RPM`, `EMBEDDING_TPM` (unset: no limit), `EMBEDDING_QUOTA_MAX_WAIT_MS` (90 s). */
export function loadQuotaConfig(env: Env): QuotaConfig {
  return {
    requestsPerMinute: positive(env, 'EMBEDDING_RPM'),
    tokensPerMinute: positive(env, 'EMBEDDING_TPM'),
    maxWaitMs: envInt(env, 'EMBEDDING_QUOTA_MAX_WAIT_MS', 90_000, { min: 0 }),
  };
}

/**
 * Tokens of a text by the documented approximation: one token per 4 characters, rounded up. Good
 * enough for budgets (Gemini counts fewer for English prose, so the budget errs on the safe side).
 */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/**
 * A per-minute budget of provider requests and tokens shared by every embed replica, kept in
 * PostgreSQL: each request reserves its share in the current minute's row with one conditional
 * upsert, so two replicas can never together pass the limit. When the window is full the caller
 * waits for the next one.
 */
export class SharedRateLimiter {
  constructor(
    private readonly db: Queryable,
    private readonly config: QuotaConfig,
    private readonly key = 'embedding',
  ) {}

  get enabled(): boolean {
    return this.config.requestsPerMinute !== undefined || this.config.tokensPerMinute !== undefined;
  }

  /** Reserves one request of `tokens` tokens, waiting for a later window if this one is full. */
  async acquire(tokens: number): Promise<void> {
    if (!this.enabled) return;
    const deadline = Date.now() + this.config.maxWaitMs;
    for (;;) {
      const waitMs = await this.#tryReserve(tokens);
      if (waitMs === 0) return;
      if (Date.now() + waitMs > deadline) {
        throw new TransientError('EMBEDDING_RATE_LIMITED', 'the shared embedding budget is spent for longer than a request may wait', {
          details: { retryAfterMs: waitMs },
        });
      }
      // Spread the replicas' retries over the first moments of the next window.
      await new Promise((resolve) => setTimeout(resolve, waitMs + Math.random() * 250));
    }
  }

  /**
   * 0 when reserved; otherwise milliseconds until the next window. 2% of each budget is kept back:
   * a request reserved in the last moment of a minute may reach the provider in the next one.
   */
  async #tryReserve(tokens: number): Promise<number> {
    const headroom = (limit: number | undefined) => (limit === undefined ? null : Math.max(1, limit - Math.floor(limit * 0.02)));
    try {
      const result = await this.db.query<{ wait_ms: number }>('select docintel_reserve($1, $2, $3, $4) as wait_ms', [
        this.key,
        headroom(this.config.requestsPerMinute),
        headroom(this.config.tokensPerMinute),
        Math.max(1, tokens),
      ]);
      return result.rows[0]!.wait_ms;
    } catch (error) {
      throw toDatabaseError(error, 'reserving the embedding budget');
    }
  }
}
