import { PermanentError, TransientError } from '@docintel/core';
import { EmbeddingBatcher, type EmbeddingKind, type EmbeddingProvider, type EmbeddingRequestEvent } from '@docintel/embedding';

interface Request {
  texts: string[];
  kind: EmbeddingKind;
  settle(): void;
}

/**
 * Records every request. A vector is `[caller, index]` parsed from a text `"caller:index"`, so a
 * test can tell whose vector came back where. With `manual`, requests wait for `settle()`.
 */
class FakeProvider implements EmbeddingProvider {
  readonly model = 'fake';
  readonly dimension = 2;
  readonly requests: Request[] = [];
  failWhen: (texts: string[]) => Error | undefined = () => undefined;

  constructor(
    readonly maxBatchSize: number,
    private readonly manual = false,
  ) {}

  get sizes(): number[] {
    return this.requests.map((request) => request.texts.length);
  }

  embed(texts: string[], kind: EmbeddingKind): Promise<Float32Array[]> {
    return new Promise((resolve, reject) => {
      const settle = (): void => {
        const error = this.failWhen(texts);
        if (error !== undefined) reject(error);
        else resolve(texts.map((text) => Float32Array.from(text.split(':').map(Number))));
      };
      this.requests.push({ texts: [...texts], kind, settle });
      if (!this.manual) settle();
    });
  }
}

function textsOf(caller: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${caller}:${i}`);
}

function expectOwnVectors(vectors: Float32Array[], caller: number, count: number): void {
  expect(vectors.map((v) => Array.from(v))).toEqual(Array.from({ length: count }, (_, i) => [caller, i]));
}

describe('EmbeddingBatcher', () => {
  afterEach(() => {
    jest.useRealTimers();
  });

  it('packs 10 concurrent callers of 25 texts into requests of 100, 100 and 50', async () => {
    const provider = new FakeProvider(100);
    const batcher = new EmbeddingBatcher({ provider });
    const results = await Promise.all(Array.from({ length: 10 }, (_, caller) => batcher.embed(textsOf(caller, 25), 'document')));
    expect(provider.sizes).toEqual([100, 100, 50]);
    results.forEach((vectors, caller) => expectOwnVectors(vectors, caller, 25));
    await batcher.close();
  });

  it('splits one large caller over several requests and keeps its order', async () => {
    const provider = new FakeProvider(100);
    const batcher = new EmbeddingBatcher({ provider });
    expectOwnVectors(await batcher.embed(textsOf(7, 250), 'document'), 7, 250);
    expect(provider.sizes).toEqual([100, 100, 50]);
  });

  it('sends a full request at once and a partial one only after lingerMs', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const provider = new FakeProvider(10);
    const batcher = new EmbeddingBatcher({ provider, lingerMs: 50 });
    const full = batcher.embed(textsOf(1, 10), 'document');
    expect(provider.sizes).toEqual([10]);
    const partial = batcher.embed(textsOf(2, 3), 'document');
    await jest.advanceTimersByTimeAsync(49);
    expect(provider.sizes).toEqual([10]);
    expect(batcher.pending).toBe(3);
    await jest.advanceTimersByTimeAsync(1);
    expect(provider.sizes).toEqual([10, 3]);
    expectOwnVectors(await full, 1, 10);
    expectOwnVectors(await partial, 2, 3);
  });

  it('never mixes kinds in one request', async () => {
    const provider = new FakeProvider(100);
    const batcher = new EmbeddingBatcher({ provider });
    await Promise.all([batcher.embed(textsOf(1, 30), 'document'), batcher.embed(textsOf(2, 30), 'query'), batcher.embed(textsOf(3, 30), 'document')]);
    expect(provider.requests.map((r) => [r.kind, r.texts.length])).toEqual([
      ['document', 60],
      ['query', 30],
    ]);
  });

  it('rejects exactly the callers whose texts rode in a failed request', async () => {
    const provider = new FakeProvider(10);
    const failure = new TransientError('EMBEDDING_FAILED', 'provider answered 503');
    provider.failWhen = (texts) => (texts.includes('2:0') ? failure : undefined);
    const batcher = new EmbeddingBatcher({ provider });
    // Requests: [1:0-5, 2:0-5] fails, [2:5-10, 3:0-5] succeeds (2 already failed), [4:0-3].
    const results = await Promise.allSettled([
      batcher.embed(textsOf(1, 5), 'document'),
      batcher.embed(textsOf(2, 10), 'document'),
      batcher.embed(textsOf(3, 5), 'document'),
      batcher.embed(textsOf(4, 3), 'document'),
    ]);
    expect(provider.sizes).toEqual([10, 10, 3]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'fulfilled', 'fulfilled']);
    expect(results[0]).toMatchObject({ reason: failure });
    expect(results[1]).toMatchObject({ reason: failure });
    expectOwnVectors((results[2] as PromiseFulfilledResult<Float32Array[]>).value, 3, 5);
  });

  it('drops the unsent texts of a caller that already failed', async () => {
    const provider = new FakeProvider(10, true);
    const failure = new Error('boom');
    provider.failWhen = (texts) => (texts.includes('1:0') ? failure : undefined);
    const batcher = new EmbeddingBatcher({ provider, maxConcurrentRequests: 1 });
    const big = batcher.embed(textsOf(1, 25), 'document');
    expect(provider.sizes).toEqual([10]);
    provider.requests[0]!.settle();
    await expect(big).rejects.toBe(failure);
    await batcher.close();
    expect(provider.sizes).toEqual([10]);
  });

  it('keeps at most maxConcurrentRequests in flight and packs texts that arrive meanwhile', async () => {
    const provider = new FakeProvider(10, true);
    const batcher = new EmbeddingBatcher({ provider, maxConcurrentRequests: 2 });
    const calls = Array.from({ length: 8 }, (_, caller) => batcher.embed(textsOf(caller, 5), 'document'));
    expect(provider.sizes).toEqual([10, 10]);
    expect(batcher.inFlight).toBe(2);
    expect(batcher.pending).toBe(20);
    provider.requests[0]!.settle();
    await calls[1];
    expect(provider.sizes).toEqual([10, 10, 10]);
    provider.requests[1]!.settle();
    provider.requests[2]!.settle();
    await calls[5];
    expect(provider.sizes).toEqual([10, 10, 10, 10]);
    provider.requests[3]!.settle();
    const results = await Promise.all(calls);
    results.forEach((vectors, caller) => expectOwnVectors(vectors, caller, 5));
  });

  it('reports each request to onRequest', async () => {
    const events: EmbeddingRequestEvent[] = [];
    const provider = new FakeProvider(4);
    const batcher = new EmbeddingBatcher({ provider, onRequest: (event) => events.push(event) });
    await batcher.embed(textsOf(1, 6), 'query');
    expect(events.map((e) => [e.kind, e.texts, e.error])).toEqual([
      ['query', 4, undefined],
      ['query', 2, undefined],
    ]);
  });

  it('rejects callers when the provider returns the wrong number of vectors', async () => {
    const provider = new FakeProvider(10);
    provider.embed = async (texts) => texts.slice(1).map(() => new Float32Array(2));
    const batcher = new EmbeddingBatcher({ provider });
    await expect(batcher.embed(['1:0', '1:1'], 'document')).rejects.toThrow(/returned 1 vectors for 2 texts/);
  });

  it('rejects callers with DIMENSION_MISMATCH when the provider returns vectors of another dimension', async () => {
    const provider = new FakeProvider(10);
    provider.embed = async (texts) => texts.map(() => new Float32Array(3));
    const batcher = new EmbeddingBatcher({ provider });
    await expect(batcher.embed(['1:0'], 'document')).rejects.toMatchObject({ code: 'DIMENSION_MISMATCH', message: expect.stringMatching(/dimension 3; expected dimension 2/) });
  });

  it('flushes waiting texts on close without waiting for the linger, then refuses new work', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask'] });
    const provider = new FakeProvider(100);
    const batcher = new EmbeddingBatcher({ provider, lingerMs: 60_000 });
    const call = batcher.embed(textsOf(1, 3), 'document');
    await batcher.close();
    expect(provider.sizes).toEqual([3]);
    expectOwnVectors(await call, 1, 3);
    await expect(batcher.embed(['1:0'], 'document')).rejects.toMatchObject({ code: 'EMBEDDING_FAILED', retriable: true });
    await batcher.close();
  });

  it('resolves an empty call without a request', async () => {
    const provider = new FakeProvider(10);
    await expect(new EmbeddingBatcher({ provider }).embed([], 'document')).resolves.toEqual([]);
    expect(provider.requests).toHaveLength(0);
  });

  it.each([
    [{ lingerMs: -1 }, 'lingerMs'],
    [{ maxConcurrentRequests: 0 }, 'maxConcurrentRequests'],
  ])('rejects invalid options %j naming the option', (options, name) => {
    const create = (): EmbeddingBatcher => new EmbeddingBatcher({ provider: new FakeProvider(10), ...options });
    expect(create).toThrow(PermanentError);
    expect(create).toThrow(new RegExp(`option ${name} `));
  });
});
