import { startGeminiEmulator, type EmulatorStats, type Faults, type GeminiEmulator, type RecordedRequest } from '@docintel/emulators';
import { LocalEmbedder } from '@docintel/embedding';
import { GoogleGenAI } from '@google/genai';

const KEY = 'emulator-test-key-5f2a';
const BATCH = '/v1/models/gemini-embedding-001:batchEmbedContents';

function request(text: string, extra: Record<string, unknown> = {}) {
  return { model: 'models/gemini-embedding-001', content: { role: 'user', parts: [{ text }] }, taskType: 'RETRIEVAL_DOCUMENT', outputDimensionality: 16, ...extra };
}

const norm = (values: number[]) => Math.hypot(...values);

/** The fields of the API's answers these tests read. */
interface GeminiBody {
  embeddings: Array<{ values: number[] }>;
  embedding: { values: number[] };
  error: { code: number; status: string; message: string; details: Array<Record<string, unknown>> };
}

async function json<T>(response: Response | Promise<Response>): Promise<T> {
  return (await (await response).json()) as T;
}

describe('Gemini emulator', () => {
  let emulator: GeminiEmulator;

  const post = async (path: string, body: unknown, key: string | null = KEY) => {
    const response = await fetch(`${emulator.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key === null ? {} : { 'x-goog-api-key': key }) },
      body: JSON.stringify(body),
    });
    return { status: response.status, headers: response.headers, body: await json<GeminiBody>(response) };
  };

  beforeEach(async () => {
    emulator = await startGeminiEmulator({ apiKey: KEY });
  });

  afterEach(async () => {
    await emulator.close();
  });

  it('answers the real SDK and records what it sent', async () => {
    // Our own fetch: without one, the SDK routes Node's fetch through undici's global dispatcher,
    // which jest's sandboxed global does not expose (plain Node does).
    const ai = new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl: emulator.url, fetch: (input, init) => fetch(input as Parameters<typeof fetch>[0], init) } });
    const response = await ai.models.embedContent({
      model: 'gemini-embedding-001',
      contents: ['kayak reimbursement', 'travel policy', 'kayak'],
      config: { taskType: 'RETRIEVAL_QUERY', outputDimensionality: 32 },
    });
    expect(response.embeddings?.map((e) => e.values?.length)).toEqual([32, 32, 32]);

    const [recorded] = emulator.requests();
    expect(recorded).toMatchObject({ method: 'POST', path: BATCH, endpoint: 'batchEmbedContents', status: 200 });
    expect(recorded!.headers['x-goog-api-key']).toBe('<redacted>');
    expect(JSON.stringify(recorded)).not.toContain(KEY);
    const body = recorded!.body as { requests: unknown[] };
    expect(body.requests).toHaveLength(3);
    expect(body.requests[0]).toEqual({
      content: { role: 'user', parts: [{ text: 'kayak reimbursement' }] },
      taskType: 'RETRIEVAL_QUERY',
      outputDimensionality: 32,
      model: 'models/gemini-embedding-001',
    });
    expect(emulator.stats()).toMatchObject({ requests: 1, byEndpoint: { batchEmbedContents: 1 }, byStatus: { 200: 1 }, counters: { texts: 3 } });
  });

  it('gives deterministic vectors, normalised only at the full 3,072 dimensions', async () => {
    const full = await post(BATCH, { requests: [request('the kayak policy', { outputDimensionality: 3072 })] });
    expect(norm(full.body.embeddings[0]!.values)).toBeCloseTo(1, 5);

    const short = await post(BATCH, { requests: [request('the kayak policy'), request('the kayak policy')] });
    const [a, b] = short.body.embeddings.map((e) => e.values) as [number[], number[]];
    expect(a).toEqual(b);
    expect(Math.abs(norm(a) - 1)).toBeGreaterThan(1e-3);
    // The direction is the local embedder's at that dimension.
    const local = new LocalEmbedder({ dimension: 16 }).embedOne('the kayak policy');
    const scaled = a.map((value) => value / norm(a));
    scaled.forEach((value, i) => expect(value).toBeCloseTo(local[i]!, 5));
  });

  it('serves :embedContent for one text', async () => {
    const response = await post('/v1beta/models/gemini-embedding-001:embedContent', { content: { parts: [{ text: 'hello' }] }, outputDimensionality: 8 });
    expect(response.status).toBe(200);
    expect(response.body.embedding.values).toHaveLength(8);
  });

  it('rejects what the real API rejects, in its error format', async () => {
    const tooMany = await post(BATCH, { requests: Array.from({ length: 101 }, (_, i) => request(`text ${i}`)) });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error).toMatchObject({ code: 400, status: 'INVALID_ARGUMENT', message: expect.stringMatching(/at most 100 requests/) });

    expect((await post(BATCH, { requests: [request('x', { model: 'models/other' })] })).status).toBe(400);
    expect((await post(BATCH, { requests: [request('x', { outputDimensionality: 4000 })] })).status).toBe(400);
    expect((await post(BATCH, { requests: [request('x', { taskType: 'SOMETHING' })] })).status).toBe(400);
    const long = await post(BATCH, { requests: [request('x'.repeat(2048 * 4 + 1))] });
    expect(long.status).toBe(400);
    expect(long.body.error.message).toMatch(/exceeds the maximum number of tokens allowed \(2048\)/);
    expect((await post('/v1/models/nope:batchEmbedContents', { requests: [request('x')] })).status).toBe(404);
    expect(emulator.stats().counters.texts).toBe(0);
  });

  it('checks the API key without ever repeating it', async () => {
    const missing = await post(BATCH, { requests: [request('x')] }, null);
    expect(missing.status).toBe(403);
    const wrong = await post(BATCH, { requests: [request('x')] }, 'not-the-key');
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.details[0]).toMatchObject({ reason: 'API_KEY_INVALID' });
    expect(JSON.stringify(wrong.body)).not.toContain('not-the-key');
  });

  it('injects 429s with Retry-After, in the header and as RetryInfo', async () => {
    await emulator.setFaults({ rateLimitRate: 1, retryAfterSeconds: 2.5 });
    const limited = await post(BATCH, { requests: [request('x')] });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('3');
    expect(limited.body.error).toMatchObject({ status: 'RESOURCE_EXHAUSTED', details: [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '2.5s' }] });
    expect(emulator.stats().injected.rateLimited).toBe(1);
    expect(emulator.requests()[0]!.fault).toBe('rate-limited');
  });

  it('injects server errors of the chosen status', async () => {
    await emulator.setFaults({ serverErrorRate: 1, serverErrorStatus: 500 });
    const failed = await post(BATCH, { requests: [request('x')] });
    expect(failed.status).toBe(500);
    expect(failed.body.error.status).toBe('INTERNAL');
    expect(emulator.stats().injected.serverErrors).toBe(1);
  });

  it('answers 429 beyond requestsPerMinute, with the wait until a slot frees', async () => {
    await emulator.setFaults({ requestsPerMinute: 2 });
    expect((await post(BATCH, { requests: [request('a')] })).status).toBe(200);
    expect((await post(BATCH, { requests: [request('b')] })).status).toBe(200);
    const third = await post(BATCH, { requests: [request('c')] });
    expect(third.status).toBe(429);
    const wait = Number(third.headers.get('retry-after'));
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60);
    expect(emulator.stats().injected.requestsPerMinuteLimited).toBe(1);
  });

  it('never answers a timed-out request: the client gives up, or the hang ends by dropping the connection', async () => {
    await emulator.setFaults({ timeoutRate: 1 });
    await expect(fetch(`${emulator.url}${BATCH}`, { method: 'POST', body: '{}', signal: AbortSignal.timeout(200) })).rejects.toThrow(/aborted/i);
    await emulator.setFaults({ hangMs: 50 });
    await expect(fetch(`${emulator.url}${BATCH}`, { method: 'POST', body: '{}' })).rejects.toThrow(/fetch failed/);
    expect(emulator.stats().injected.timeouts).toBe(2);
    expect(emulator.requests().map((r) => r.status)).toEqual([0, 0]);
  });

  it('adds latency before answering', async () => {
    await emulator.setFaults({ latencyMs: 150 });
    const started = performance.now();
    expect((await post(BATCH, { requests: [request('x')] })).status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it('goes down and comes back on the same port, controlled through the admin port', async () => {
    const control = (body: unknown) => fetch(`${emulator.adminUrl}/__faults`, { method: 'POST', body: JSON.stringify(body) });
    expect((await control({ down: true })).status).toBe(200);
    await expect(fetch(`${emulator.url}${BATCH}`, { method: 'POST', body: '{}' })).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } });
    expect((await json<{ down: boolean }>(fetch(`${emulator.adminUrl}/__health`))).down).toBe(true);

    expect((await control({ down: false })).status).toBe(200);
    expect((await post(BATCH, { requests: [request('x')] })).status).toBe(200);
  });

  it('can be taken down by a request on its own API port', async () => {
    const response = await fetch(`${emulator.url}/__faults`, { method: 'POST', body: JSON.stringify({ down: true }) });
    expect((await json<Faults>(response)).down).toBe(true);
    await expect(fetch(`${emulator.url}/__stats`)).rejects.toThrow(/fetch failed/);
    await emulator.setFaults({ down: false });
    expect((await fetch(`${emulator.url}/__stats`)).status).toBe(200);
  });

  it('shows stats, requests and faults over HTTP, and resets', async () => {
    await post(BATCH, { requests: [request('x'), request('y')] });
    const stats = await json<EmulatorStats>(fetch(`${emulator.adminUrl}/__stats`));
    expect(stats).toMatchObject({ requests: 1, byEndpoint: { batchEmbedContents: 1 }, counters: { texts: 2 } });
    expect(stats.perMinute).toEqual([{ minute: expect.any(String), requests: 1 }]);
    expect((await json<RecordedRequest[]>(fetch(`${emulator.url}/__requests`)))[0]!.path).toBe(BATCH);

    const bad = await fetch(`${emulator.adminUrl}/__faults`, { method: 'POST', body: JSON.stringify({ rateLimitRate: 2 }) });
    expect(bad.status).toBe(400);
    expect((await json<{ error: string }>(bad)).error).toMatch(/rateLimitRate must be a number from 0 to 1/);
    await expect(emulator.setFaults({ nope: 1 } as never)).rejects.toThrow(/unknown fault "nope"/);

    await emulator.setFaults({ latencyMs: 5 });
    expect((await json<Faults>(fetch(`${emulator.adminUrl}/__faults`))).latencyMs).toBe(5);
    expect((await fetch(`${emulator.adminUrl}/__reset`, { method: 'POST' })).status).toBe(200);
    expect(emulator.stats().requests).toBe(0);
    expect(emulator.requests()).toEqual([]);
    expect(emulator.faults().latencyMs).toBe(0);
  });

  it('answers unknown routes 404 without counting them', async () => {
    const response = await fetch(`${emulator.url}/v1/models`, { method: 'GET' });
    expect(response.status).toBe(404);
    expect(emulator.stats().requests).toBe(0);
  });
});
