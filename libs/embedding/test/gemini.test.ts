import { DocintelError, PermanentError, TransientError, type ConfigError, type Logger } from '@docintel/core';
import { startGeminiEmulator, type GeminiEmulator } from '@docintel/emulators';
import {
  EmbeddingBatcher,
  GEMINI_DEFAULT_MAX_INPUT_CHARS,
  GeminiEmbedder,
  LocalEmbedder,
  createEmbeddingProvider,
  loadEmbeddingConfig,
  parseRetryAfter,
  type GeminiEmbedderOptions,
} from '@docintel/embedding';

const KEY = 'AIzaSy-test-key-0123456789';

/** One entry of a batchEmbedContents request, as the emulator recorded it. */
interface SentRequest {
  model: string;
  taskType: string;
  outputDimensionality: number;
  content: { parts: Array<{ text: string }> };
}

function fakeLogger() {
  const warn = jest.fn();
  return { logger: { warn } as unknown as Logger, warn };
}

/** Everything of an error that could reach a log line or a Kafka header. */
function allText(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  while (current instanceof Error) {
    parts.push(current.message, current.stack ?? '', JSON.stringify((current as DocintelError).details ?? {}));
    current = current.cause;
  }
  return parts.join('\n');
}

describe('GeminiEmbedder against the Gemini emulator', () => {
  let emulator: GeminiEmulator;

  const embedder = (options: Partial<GeminiEmbedderOptions> = {}) => new GeminiEmbedder({ apiKey: KEY, baseUrl: emulator.url, dimension: 64, ...options });
  const sent = () => emulator.requests().map((request) => (request.body as { requests: SentRequest[] } | undefined)?.requests ?? []);
  const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error as DocintelError);

  beforeEach(async () => {
    emulator = await startGeminiEmulator({ apiKey: KEY });
  });

  afterEach(async () => {
    await emulator.close();
  });

  it('sends task type and dimension as asked, and returns unit vectors in order', async () => {
    const provider = embedder();
    const documents = await provider.embed(['kayak reimbursement policy', 'expense report deadline'], 'document');
    const [query] = await provider.embed(['kayak reimbursement'], 'query');

    const [first, second] = sent();
    expect(first!.map((r) => [r.taskType, r.outputDimensionality, r.model, r.content.parts[0]!.text])).toEqual([
      ['RETRIEVAL_DOCUMENT', 64, 'models/gemini-embedding-001', 'kayak reimbursement policy'],
      ['RETRIEVAL_DOCUMENT', 64, 'models/gemini-embedding-001', 'expense report deadline'],
    ]);
    expect(second![0]).toMatchObject({ taskType: 'RETRIEVAL_QUERY', outputDimensionality: 64 });
    expect(emulator.requests()[0]!.path).toBe('/v1/models/gemini-embedding-001:batchEmbedContents');

    for (const vector of [...documents, query!]) {
      expect(vector).toBeInstanceOf(Float32Array);
      expect(vector).toHaveLength(64);
      expect(Math.hypot(...vector)).toBeCloseTo(1, 5);
    }
    // The emulator's truncated output is not unit length; ours is, in the same direction.
    const local = new LocalEmbedder({ dimension: 64 }).embedOne('kayak reimbursement policy');
    documents[0]!.forEach((value, i) => expect(value).toBeCloseTo(local[i]!, 5));
    const dot = (a: Float32Array, b: Float32Array) => a.reduce((sum, value, i) => sum + value * b[i]!, 0);
    expect(dot(query!, documents[0]!)).toBeGreaterThan(dot(query!, documents[1]!));
    expect(provider.stats).toEqual({ requests: 2, texts: 3, truncatedTexts: 0 });
  });

  it('carries at most 100 texts per request behind the batcher', async () => {
    const provider = embedder({ dimension: 8 });
    const batcher = new EmbeddingBatcher({ provider, lingerMs: 0, maxConcurrentRequests: 1 });
    const texts = Array.from({ length: 250 }, (_, i) => `chunk number ${i}`);
    const vectors = await batcher.embed(texts, 'document');
    await batcher.close();
    expect(vectors).toHaveLength(250);
    expect(sent().map((requests) => requests.length)).toEqual([100, 100, 50]);
    expect(sent().flat().map((r) => r.content.parts[0]!.text)).toEqual(texts);
    await expect(provider.embed(texts.slice(0, 101), 'document')).rejects.toMatchObject({ code: 'INTERNAL' });
  });

  it('truncates a text over the input limit by default, within what the API takes', async () => {
    const { logger, warn } = fakeLogger();
    const provider = embedder({ logger });
    const long = `${'word '.repeat(3000)}end`;
    const [vector] = await provider.embed([long, 'short'], 'document');
    expect(vector).toHaveLength(64);
    const [texts] = sent();
    expect(texts![0]!.content.parts[0]!.text).toBe(long.slice(0, GEMINI_DEFAULT_MAX_INPUT_CHARS));
    expect(texts![1]!.content.parts[0]!.text).toBe('short');
    expect(provider.stats.truncatedTexts).toBe(1);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/truncated/), { model: 'gemini-embedding-001', characters: long.length, maxInputChars: GEMINI_DEFAULT_MAX_INPUT_CHARS });
    // The log line tells the length, never the text.
    expect(JSON.stringify(warn.mock.calls)).not.toContain('word word');
  });

  it('never cuts a surrogate pair in half', async () => {
    const provider = embedder({ maxInputChars: 5 });
    await provider.embed(['abcd😀xyz'], 'document');
    expect(sent()[0]![0]!.content.parts[0]!.text).toBe('abcd');
  });

  it('fails a long text before sending anything under GEMINI_LONG_TEXT=fail', async () => {
    const provider = embedder({ longText: 'fail', maxInputChars: 100 });
    const error = await failure(provider.embed(['ok', 'x'.repeat(101)], 'document'));
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ code: 'INVALID_OPTIONS', message: expect.stringMatching(/text 1 of the request has 101 characters.*GEMINI_LONG_TEXT/) });
    expect(emulator.stats().requests).toBe(0);
  });

  it('turns a 429 into EMBEDDING_RATE_LIMITED with the Retry-After in milliseconds', async () => {
    await emulator.setFaults({ rateLimitRate: 1, retryAfterSeconds: 3 });
    const error = await failure(embedder().embed(['x'], 'document'));
    expect(error).toBeInstanceOf(TransientError);
    expect(error).toMatchObject({ code: 'EMBEDDING_RATE_LIMITED', retriable: true, details: { status: 429, retryAfterMs: 3000 } });

    await emulator.setFaults({ rateLimitRate: 0, requestsPerMinute: 1 });
    await embedder().embed(['x'], 'document');
    const limited = await failure(embedder().embed(['y'], 'document'));
    expect(limited).toMatchObject({ code: 'EMBEDDING_RATE_LIMITED', details: { retryAfterMs: expect.any(Number) } });
    expect((limited!.details!.retryAfterMs as number) / 1000).toBeLessThanOrEqual(60);
  });

  it('turns 5xx, timeouts and refused connections into retriable EMBEDDING_FAILED', async () => {
    await emulator.setFaults({ serverErrorRate: 1, serverErrorStatus: 503 });
    expect(await failure(embedder().embed(['x'], 'document'))).toMatchObject({ code: 'EMBEDDING_FAILED', retriable: true, details: { status: 503 } });

    await emulator.setFaults({ serverErrorRate: 0, timeoutRate: 1 });
    const timedOut = await failure(embedder({ timeoutMs: 200 }).embed(['x'], 'document'));
    expect(timedOut).toMatchObject({ code: 'EMBEDDING_FAILED', retriable: true, message: expect.stringMatching(/timed out after 200 ms/) });

    await emulator.setFaults({ timeoutRate: 0, down: true });
    const refused = await failure(embedder().embed(['x'], 'document'));
    // Refused, or a pooled keep-alive socket found closed: a connection failure either way.
    expect(refused).toMatchObject({ code: 'EMBEDDING_FAILED', retriable: true, message: expect.stringMatching(/ECONNREFUSED|UND_ERR_SOCKET/) });
  });

  it('turns a rejected request into a PermanentError', async () => {
    await emulator.close();
    emulator = await startGeminiEmulator({ apiKey: KEY, nativeDimension: 512 });
    const error = await failure(embedder({ dimension: 768 }).embed(['x'], 'document'));
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ code: 'EMBEDDING_FAILED', retriable: false, details: { status: 400 }, message: expect.stringMatching(/output_dimensionality/) });
    expect(await failure(embedder({ model: 'no-such-model' }).embed(['x'], 'document'))).toMatchObject({ retriable: false, details: { status: 404 } });
  });

  it('never lets the API key into an error, whatever fails', async () => {
    const errors: unknown[] = [];
    const wrongKey = `${KEY}-wrong`;
    errors.push(await failure(new GeminiEmbedder({ apiKey: wrongKey, baseUrl: emulator.url }).embed(['x'], 'document')));
    expect(errors[0]).toMatchObject({ code: 'EMBEDDING_FAILED', retriable: true, message: expect.stringMatching(/GEMINI_API_KEY\) was rejected/) });
    for (const faults of [{ rateLimitRate: 1 }, { rateLimitRate: 0, serverErrorRate: 1 }, { serverErrorRate: 0, timeoutRate: 1 }, { timeoutRate: 0, down: true }]) {
      await emulator.setFaults(faults);
      errors.push(await failure(embedder({ timeoutMs: 200 }).embed(['x'], 'document')));
    }
    // Even a base URL that spells the key (port 1 on loopback: refused at once).
    errors.push(await failure(new GeminiEmbedder({ apiKey: KEY, baseUrl: `http://127.0.0.1:1/${KEY}` }).embed(['x'], 'document')));
    expect(errors).toHaveLength(6);
    for (const error of errors) {
      expect(error).toBeInstanceOf(DocintelError);
      expect(allText(error)).not.toContain(KEY);
      expect(allText(error)).not.toContain(wrongKey);
    }
  });

  it('checks its options', () => {
    expect(() => new GeminiEmbedder({ apiKey: ' ' })).toThrow(/needs an API key/);
    expect(() => new GeminiEmbedder({ apiKey: KEY, maxBatchSize: 101 })).toThrow(/maxBatchSize must be an integer from 1 to 100/);
    expect(() => new GeminiEmbedder({ apiKey: KEY, dimension: 4000 })).toThrow(/dimension must be an integer from 1 to 3072/);
    expect(() => new GeminiEmbedder({ apiKey: KEY, longText: 'split' as never })).toThrow(/longText must be truncate or fail/);
    const provider = new GeminiEmbedder({ apiKey: KEY });
    expect([provider.model, provider.dimension, provider.maxBatchSize, provider.longText, provider.maxInputChars]).toEqual(['gemini-embedding-001', 768, 100, 'truncate', 6963]);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter('0.5')).toBe(500);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 4_000)).toBe(6000);
    expect(parseRetryAfter(new Date(0).toUTCString(), 4_000)).toBe(0);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(null)).toBeUndefined();
  });
});

describe('loadEmbeddingConfig for gemini', () => {
  const base = { EMBEDDING_PROVIDER: 'gemini', GEMINI_API_KEY: KEY };

  it('reads the gemini variables with their defaults', () => {
    expect(loadEmbeddingConfig(base)).toEqual({
      provider: 'gemini',
      apiKey: KEY,
      model: 'gemini-embedding-001',
      dimension: 768,
      maxBatchSize: 100,
      longText: 'truncate',
      maxInputChars: 6963,
      timeoutMs: 30_000,
    });
    const custom = loadEmbeddingConfig({ ...base, GEMINI_BASE_URL: 'http://127.0.0.1:9201', EMBEDDING_DIMENSION: '1536', GEMINI_LONG_TEXT: 'fail', GEMINI_MAX_INPUT_CHARS: '4000', GEMINI_TIMEOUT_MS: '5000' });
    expect(custom).toMatchObject({ baseUrl: 'http://127.0.0.1:9201', dimension: 1536, longText: 'fail', maxInputChars: 4000, timeoutMs: 5000 });
    expect(createEmbeddingProvider(custom)).toBeInstanceOf(GeminiEmbedder);
    expect(loadEmbeddingConfig({}).provider).toBe('local');
  });

  it('names the variable that is wrong', () => {
    const variable = (env: Record<string, string>) => {
      try {
        loadEmbeddingConfig(env);
      } catch (error) {
        return (error as ConfigError).variable;
      }
      return undefined;
    };
    expect(variable({ EMBEDDING_PROVIDER: 'gemini' })).toBe('GEMINI_API_KEY');
    expect(variable({ ...base, EMBEDDING_MAX_BATCH: '101' })).toBe('EMBEDDING_MAX_BATCH');
    expect(variable({ ...base, EMBEDDING_DIMENSION: '4096' })).toBe('EMBEDDING_DIMENSION');
    expect(variable({ ...base, GEMINI_LONG_TEXT: 'split' })).toBe('GEMINI_LONG_TEXT');
    expect(variable({ ...base, GEMINI_BASE_URL: 'localhost:9201' })).toBe('GEMINI_BASE_URL');
    expect(variable({ EMBEDDING_PROVIDER: 'openai' })).toBe('EMBEDDING_PROVIDER');
  });
});
