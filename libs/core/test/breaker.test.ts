import { Breaker, BreakerGate, PermanentError, TransientError, classifyError, createBreakerMetrics } from '@docintel/core';
import { Registry } from 'prom-client';

const fail = (error: Error) => async () => {
  throw error;
};

describe('Breaker', () => {
  it('opens after retriable failures, then fails at once with CIRCUIT_OPEN', async () => {
    const registry = new Registry();
    const breaker = new Breaker('embedding', { volumeThreshold: 3, resetTimeoutMs: 60_000 }, createBreakerMetrics(registry));
    const gate = new BreakerGate();
    gate.add(breaker);
    for (let i = 0; i < 3; i++) await expect(breaker.fire(fail(new TransientError('EMBEDDING_FAILED', 'down')))).rejects.toThrow('down');
    expect(breaker.state).toBe('open');
    expect(gate.isOpen()).toBe(true);
    expect(gate.openBreakers()).toEqual(['embedding']);
    let called = false;
    const rejected = await breaker.fire(async () => (called = true)).catch((error: unknown) => error);
    expect(called).toBe(false);
    expect(classifyError(rejected)).toMatchObject({ code: 'CIRCUIT_OPEN', retriable: true });
    expect(await registry.getSingleMetricAsString('docintel_breaker_state')).toContain('docintel_breaker_state{breaker="embedding"} 2');
    breaker.shutdown();
  });

  it('does not count bad input against the dependency', async () => {
    const breaker = new Breaker('vectorstore', { volumeThreshold: 2 });
    for (let i = 0; i < 5; i++) await expect(breaker.fire(fail(new PermanentError('DIMENSION_MISMATCH', 'wrong size')))).rejects.toThrow('wrong size');
    expect(breaker.state).toBe('closed');
    expect(await breaker.fire(async () => 42)).toBe(42);
    breaker.shutdown();
  });

  it('tells listeners when it opens', async () => {
    const breaker = new Breaker('postgres', { volumeThreshold: 1, counts: () => true });
    const states: string[] = [];
    breaker.onChange((state) => states.push(state));
    await expect(breaker.fire(fail(new Error('connection refused')))).rejects.toThrow('connection refused');
    expect(states).toEqual(['open']);
    breaker.shutdown();
  });

  it('opens on failures in a row even after a long healthy spell', async () => {
    const breaker = new Breaker('embedding', { volumeThreshold: 3, consecutiveFailures: 3, resetTimeoutMs: 60_000 });
    for (let i = 0; i < 50; i++) await breaker.fire(async () => i);
    for (let i = 0; i < 2; i++) await expect(breaker.fire(fail(new TransientError('EMBEDDING_FAILED', 'down')))).rejects.toThrow('down');
    expect(breaker.state).toBe('closed');
    await expect(breaker.fire(fail(new TransientError('EMBEDDING_FAILED', 'down')))).rejects.toThrow('down');
    expect(breaker.state).toBe('open');
    breaker.shutdown();
  });
});
