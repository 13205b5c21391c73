import CircuitBreaker from 'opossum';
import { Counter, Gauge, type Registry } from 'prom-client';
import { classifyError, TransientError } from './errors';

export type BreakerState = 'closed' | 'halfOpen' | 'open';

export interface BreakerOptions {
  /** Share of failed calls in the window that opens the breaker. @default 50 */
  errorThresholdPercentage?: number;
  /** Calls in the window before it may open. @default 5 */
  volumeThreshold?: number;
  /** How long it stays open before letting a probe through. @default 5_000 */
  resetTimeoutMs?: number;
  /** A call slower than this counts as failed. @default 60_000 */
  timeoutMs?: number;
  /** @default 10_000 */
  rollingWindowMs?: number;
  /** Which failures count against the dependency. @default retriable ones */
  counts?: (error: unknown) => boolean;
  /**
   * Failures in a row that open the breaker whatever the window's share: after a long healthy
   * spell, the share of failures rises too slowly to catch the start of an outage. @default 3
   */
  consecutiveFailures?: number;
}

/**
 * A circuit breaker (opossum) around one dependency. Only retriable failures count against it: a
 * bad input (a 400, a wrong dimension) says nothing about the dependency's health. While open, a
 * call fails at once with `CIRCUIT_OPEN`, which the consumer answers by pausing, not retrying.
 */
export class Breaker {
  readonly name: string;
  readonly #breaker: CircuitBreaker<[() => Promise<unknown>], unknown>;
  readonly #listeners = new Set<(state: BreakerState) => void>();
  readonly #counts: (error: unknown) => boolean;
  readonly #consecutiveLimit: number;
  #consecutive = 0;

  constructor(name: string, options: BreakerOptions = {}, metrics?: BreakerMetrics) {
    this.name = name;
    this.#counts = options.counts ?? ((error: unknown) => classifyError(error).retriable);
    this.#consecutiveLimit = options.consecutiveFailures ?? 3;
    this.#breaker = new CircuitBreaker((work: () => Promise<unknown>) => work(), {
      name,
      errorThresholdPercentage: options.errorThresholdPercentage ?? 50,
      volumeThreshold: options.volumeThreshold ?? 5,
      resetTimeout: options.resetTimeoutMs ?? 5_000,
      timeout: options.timeoutMs ?? 60_000,
      rollingCountTimeout: options.rollingWindowMs ?? 10_000,
      errorFilter: (error: unknown) => !this.#counts(error),
    });
    const report = (state: BreakerState) => {
      metrics?.state.set({ breaker: name }, state === 'closed' ? 0 : state === 'halfOpen' ? 1 : 2);
      metrics?.transitions.inc({ breaker: name, state });
      for (const listener of this.#listeners) listener(state);
    };
    metrics?.state.set({ breaker: name }, 0);
    this.#breaker.on('open', () => report('open'));
    this.#breaker.on('halfOpen', () => report('halfOpen'));
    this.#breaker.on('close', () => report('closed'));
  }

  get state(): BreakerState {
    return this.#breaker.opened ? 'open' : this.#breaker.halfOpen ? 'halfOpen' : 'closed';
  }

  onChange(listener: (state: BreakerState) => void): void {
    this.#listeners.add(listener);
  }

  async fire<T>(work: () => Promise<T>): Promise<T> {
    try {
      const result = (await this.#breaker.fire(work)) as T;
      this.#consecutive = 0;
      return result;
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code !== 'EOPENBREAKER' && this.#counts(error)) {
        this.#consecutive += 1;
        if (this.#consecutive >= this.#consecutiveLimit && !this.#breaker.opened) this.#breaker.open();
      }
      if (code === 'EOPENBREAKER') throw new TransientError('CIRCUIT_OPEN', `${this.name} is unavailable (circuit open)`, { cause: error });
      if (code === 'ETIMEDOUT') throw new TransientError('TIMEOUT', `${this.name} did not answer in time`, { cause: error });
      throw error;
    }
  }

  shutdown(): void {
    this.#breaker.shutdown();
  }
}

export interface BreakerMetrics {
  state: Gauge<'breaker'>;
  transitions: Counter<'breaker' | 'state'>;
}

export function createBreakerMetrics(registry: Registry): BreakerMetrics {
  return {
    state: new Gauge({ name: 'docintel_breaker_state', help: 'Circuit breaker state: 0 closed, 1 half-open, 2 open', labelNames: ['breaker'], registers: [registry] }),
    transitions: new Counter({ name: 'docintel_breaker_transitions_total', help: 'Circuit breaker state changes', labelNames: ['breaker', 'state'], registers: [registry] }),
  };
}

/** Open while any of its breakers is open; a half-open breaker lets consumption probe again. */
export class BreakerGate {
  readonly #breakers: Breaker[] = [];
  readonly #listeners = new Set<() => void>();

  add(breaker: Breaker): Breaker {
    this.#breakers.push(breaker);
    breaker.onChange(() => {
      for (const listener of this.#listeners) listener();
    });
    return breaker;
  }

  isOpen(): boolean {
    return this.#breakers.some((breaker) => breaker.state === 'open');
  }

  openBreakers(): string[] {
    return this.#breakers.filter((breaker) => breaker.state === 'open').map((breaker) => breaker.name);
  }

  onChange(listener: () => void): void {
    this.#listeners.add(listener);
  }

  shutdown(): void {
    for (const breaker of this.#breakers) breaker.shutdown();
  }
}
