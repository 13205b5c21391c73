import { PermanentError, seededRandom } from '@docintel/core';

/**
 * Faults an emulator injects into the requests it serves, settable at runtime (the `setFaults`
 * method, or `POST /__faults` with a JSON body of the same shape). Rates are shares from 0 to 1,
 * drawn from a seeded generator, so one request order gives one sequence of faults.
 */
export interface Faults {
  /** Share of requests answered 429 with a `Retry-After` header. @default 0 */
  rateLimitRate: number;
  /** The `Retry-After` of injected 429s, in seconds (fractions allowed; sent rounded up as the header, exact in the body). @default 1 */
  retryAfterSeconds: number;
  /** Share of requests answered with {@link Faults.serverErrorStatus}. @default 0 */
  serverErrorRate: number;
  /** @default 503 */
  serverErrorStatus: number;
  /** Share of requests never answered: held for {@link Faults.hangMs}, then their connection is destroyed. @default 0 */
  timeoutRate: number;
  /** How long a timed-out request is held; 0 holds it until the client gives up or the emulator closes. @default 0 */
  hangMs: number;
  /** Added before every answer. @default 0 (ms) */
  latencyMs: number;
  /** Requests admitted per rolling minute; beyond it the emulator answers 429 with the wait as `Retry-After`. 0 = no limit. @default 0 */
  requestsPerMinute: number;
  /** Refuse connections: the API port stops listening and open connections are destroyed (the admin port stays up). @default false */
  down: boolean;
  /** Seed of the generator behind the rates; setting it restarts the sequence. @default 1 */
  seed: number;
}

/** No faults at all. */
export const NO_FAULTS: Readonly<Faults> = Object.freeze({
  rateLimitRate: 0,
  retryAfterSeconds: 1,
  serverErrorRate: 0,
  serverErrorStatus: 503,
  timeoutRate: 0,
  hangMs: 0,
  latencyMs: 0,
  requestsPerMinute: 0,
  down: false,
  seed: 1,
});

type NumericFault = Exclude<keyof Faults, 'down'>;

const RANGES: Record<NumericFault, [min: number, max: number, integer: boolean]> = {
  rateLimitRate: [0, 1, false],
  retryAfterSeconds: [0, 86_400, false],
  serverErrorRate: [0, 1, false],
  serverErrorStatus: [500, 599, true],
  timeoutRate: [0, 1, false],
  hangMs: [0, 3_600_000, true],
  latencyMs: [0, 600_000, true],
  requestsPerMinute: [0, 1_000_000, true],
  seed: [0, 0xffffffff, true],
};

/** Checks a partial fault set (e.g. a `POST /__faults` body) field by field; unknown fields are errors. */
export function parseFaults(input: unknown): Partial<Faults> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new PermanentError('INVALID_OPTIONS', 'faults must be a JSON object');
  }
  const out: Partial<Faults> = {};
  for (const [key, value] of Object.entries(input)) {
    if (key === 'down') {
      if (typeof value !== 'boolean') throw new PermanentError('INVALID_OPTIONS', 'fault down must be true or false');
      out.down = value;
      continue;
    }
    const range = RANGES[key as NumericFault] as [number, number, boolean] | undefined;
    if (range === undefined) throw new PermanentError('INVALID_OPTIONS', `unknown fault ${JSON.stringify(key)}; known: ${[...Object.keys(RANGES), 'down'].join(', ')}`);
    const [min, max, integer] = range;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max || (integer && !Number.isInteger(value))) {
      throw new PermanentError('INVALID_OPTIONS', `fault ${key} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got ${JSON.stringify(value)}`);
    }
    out[key as NumericFault] = value;
  }
  return out;
}

/** What the emulator does with one request, before the endpoint itself sees it. */
export type FaultDecision =
  | { kind: 'pass' }
  | { kind: 'timeout' }
  | { kind: 'rate-limited'; retryAfterSeconds: number; reason: 'injected' | 'requests-per-minute' }
  | { kind: 'server-error'; status: number };

/** Rates are drawn from a seeded generator: one seed, one sequence of faults. */
const generator = seededRandom;

/** The current faults, the generator behind their rates, and the rolling-minute window of admitted requests. */
export class FaultPlan {
  #faults: Faults = { ...NO_FAULTS };
  #random = generator(NO_FAULTS.seed);
  /** Times (ms) of the requests admitted in the last minute, oldest first. */
  #window: number[] = [];

  get current(): Faults {
    return { ...this.#faults };
  }

  /** Merges `faults` into the current set. */
  set(faults: Partial<Faults>): Faults {
    this.#faults = { ...this.#faults, ...faults };
    if (faults.seed !== undefined) this.#random = generator(faults.seed);
    return this.current;
  }

  reset(): void {
    this.#faults = { ...NO_FAULTS };
    this.#random = generator(NO_FAULTS.seed);
    this.#window = [];
  }

  /** Decides the fate of one request arriving at `now`; one draw per rate, so the sequence does not depend on which rates are set. */
  decide(now: number): FaultDecision {
    const f = this.#faults;
    const [timeout, limited, failed] = [this.#random(), this.#random(), this.#random()];
    if (timeout < f.timeoutRate) return { kind: 'timeout' };
    if (limited < f.rateLimitRate) return { kind: 'rate-limited', retryAfterSeconds: f.retryAfterSeconds, reason: 'injected' };
    if (f.requestsPerMinute > 0) {
      while (this.#window.length > 0 && this.#window[0]! <= now - 60_000) this.#window.shift();
      if (this.#window.length >= f.requestsPerMinute) {
        const waitMs = this.#window[0]! + 60_000 - now;
        return { kind: 'rate-limited', retryAfterSeconds: Math.max(0.001, waitMs / 1000), reason: 'requests-per-minute' };
      }
      this.#window.push(now);
    }
    if (failed < f.serverErrorRate) return { kind: 'server-error', status: f.serverErrorStatus };
    return { kind: 'pass' };
  }
}
