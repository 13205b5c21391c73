import { FaultPlan, NO_FAULTS, parseFaults } from '@docintel/emulators';

describe('parseFaults', () => {
  it('accepts a partial set and rejects unknown fields and values out of range', () => {
    expect(parseFaults({ rateLimitRate: 0.5, down: true })).toEqual({ rateLimitRate: 0.5, down: true });
    expect(() => parseFaults([])).toThrow(/must be a JSON object/);
    expect(() => parseFaults({ rate: 1 })).toThrow(/unknown fault "rate"/);
    expect(() => parseFaults({ timeoutRate: -0.1 })).toThrow(/timeoutRate must be a number from 0 to 1/);
    expect(() => parseFaults({ serverErrorStatus: 404 })).toThrow(/from 500 to 599/);
    expect(() => parseFaults({ latencyMs: 1.5 })).toThrow(/latencyMs must be an integer/);
    expect(() => parseFaults({ down: 'yes' })).toThrow(/down must be true or false/);
  });
});

describe('FaultPlan', () => {
  it('passes everything without faults', () => {
    const plan = new FaultPlan();
    expect(plan.current).toEqual(NO_FAULTS);
    for (let i = 0; i < 100; i++) expect(plan.decide(i)).toEqual({ kind: 'pass' });
  });

  it('draws rates from a seeded sequence: one seed, one sequence', () => {
    const kinds = (seed: number) => {
      const plan = new FaultPlan();
      plan.set({ rateLimitRate: 0.3, serverErrorRate: 0.2, seed });
      return Array.from({ length: 1000 }, (_, i) => plan.decide(i).kind);
    };
    const first = kinds(7);
    expect(kinds(7)).toEqual(first);
    expect(kinds(8)).not.toEqual(first);
    const limited = first.filter((kind) => kind === 'rate-limited').length;
    const failed = first.filter((kind) => kind === 'server-error').length;
    expect(limited).toBeGreaterThan(240);
    expect(limited).toBeLessThan(360);
    // Server errors are drawn among the requests that were not rate limited: 0.7 x 0.2.
    expect(failed).toBeGreaterThan(100);
    expect(failed).toBeLessThan(185);
  });

  it('admits requestsPerMinute in any rolling minute and tells how long to wait', () => {
    const plan = new FaultPlan();
    plan.set({ requestsPerMinute: 2, retryAfterSeconds: 9 });
    expect(plan.decide(0).kind).toBe('pass');
    expect(plan.decide(10_000).kind).toBe('pass');
    expect(plan.decide(30_000)).toEqual({ kind: 'rate-limited', retryAfterSeconds: 30, reason: 'requests-per-minute' });
    expect(plan.decide(60_000).kind).toBe('pass');
    expect(plan.decide(60_001)).toMatchObject({ kind: 'rate-limited', retryAfterSeconds: 9.999 });
    plan.reset();
    expect(plan.current.requestsPerMinute).toBe(0);
  });

  it('holds timed-out requests before any other fault', () => {
    const plan = new FaultPlan();
    plan.set({ timeoutRate: 1, rateLimitRate: 1 });
    expect(plan.decide(0)).toEqual({ kind: 'timeout' });
  });
});
