import { PermanentError, TransientError, retrying } from '@docintel/core';

describe('retrying', () => {
  it('tries a retriable failure again and returns the first success', async () => {
    let calls = 0;
    const result = await retrying(
      async () => {
        calls += 1;
        if (calls < 3) throw new TransientError('EMBEDDING_FAILED', 'blip');
        return 'ok';
      },
      { attempts: 3, baseDelayMs: 1 },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
  });

  it('gives up after the last attempt with the last error', async () => {
    let calls = 0;
    const failing = retrying(
      async () => {
        calls += 1;
        throw new TransientError('VECTOR_STORE_FAILED', `failure ${calls}`);
      },
      { attempts: 2, baseDelayMs: 1 },
    );
    await expect(failing).rejects.toThrow('failure 2');
    expect(calls).toBe(2);
  });

  it('never retries a permanent error', async () => {
    let calls = 0;
    const failing = retrying(async () => {
      calls += 1;
      throw new PermanentError('DIMENSION_MISMATCH', 'wrong size');
    });
    await expect(failing).rejects.toThrow('wrong size');
    expect(calls).toBe(1);
  });

  it("waits at least a 429's Retry-After", async () => {
    const delays: number[] = [];
    let calls = 0;
    await retrying(
      async () => {
        calls += 1;
        if (calls === 1) throw new TransientError('EMBEDDING_RATE_LIMITED', 'slow down', { details: { retryAfterMs: 30 } });
      },
      { baseDelayMs: 1, onRetry: (_e, _a, delay) => delays.push(delay) },
    );
    expect(delays[0]).toBeGreaterThanOrEqual(30);
  });
});
