import { DocintelError, PermanentError, TransientError, type Logger } from '@docintel/core';
import type * as GenAI from '@google/genai';
import type { EmbeddingKind, EmbeddingProvider } from './provider';

/** What to do with a text longer than the model takes. */
export type GeminiLongTextPolicy = 'truncate' | 'fail';

/** The model's input limit. */
export const GEMINI_MAX_INPUT_TOKENS = 2048;
/**
 * The most characters sent per text by default: 2,048 tokens x 4 characters per token (the usual
 * average for English prose) x 0.85, a margin for text that tokenises denser (numbers, code,
 * non-Latin scripts). There is no offline tokenizer for the model (the SDK's downloads its
 * vocabulary), so this is an estimate; lower `GEMINI_MAX_INPUT_CHARS` for dense text.
 */
export const GEMINI_DEFAULT_MAX_INPUT_CHARS = Math.floor(GEMINI_MAX_INPUT_TOKENS * 4 * 0.85);
/** Texts per `batchEmbedContents` request the API accepts. */
export const GEMINI_MAX_BATCH_SIZE = 100;

/** Options of {@link GeminiEmbedder}. */
export interface GeminiEmbedderOptions {
  /** Sent as `x-goog-api-key`; never logged, and scrubbed from every error this class raises. */
  apiKey: string;
  /** @default 'gemini-embedding-001' */
  model?: string;
  /** `outputDimensionality` of every request, 1 to 3,072. @default 768 */
  dimension?: number;
  /** Texts per request, at most 100. @default 100 */
  maxBatchSize?: number;
  /** The API's base URL, e.g. an emulator's; passed as the SDK's `httpOptions.baseUrl`. @default the SDK's (https://generativelanguage.googleapis.com) */
  baseUrl?: string;
  /** A text over `maxInputChars`: cut to fit (`truncate`), or fail the request before sending anything (`fail`). @default 'truncate' */
  longText?: GeminiLongTextPolicy;
  /** @default {@link GEMINI_DEFAULT_MAX_INPUT_CHARS} (6,963) */
  maxInputChars?: number;
  /** Per request, including reading the answer. @default 30_000 (ms) */
  timeoutMs?: number;
  /** Receives a warning per truncated text (its length, never its content). */
  logger?: Logger;
}

/** Counts of a {@link GeminiEmbedder}'s work since it was made. */
export interface GeminiEmbedderStats {
  requests: number;
  texts: number;
  /** Texts cut to `maxInputChars` under the `truncate` policy. */
  truncatedTexts: number;
}

const TASK_TYPES: Record<EmbeddingKind, string> = { document: 'RETRIEVAL_DOCUMENT', query: 'RETRIEVAL_QUERY' };

function checkInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new PermanentError('INVALID_OPTIONS', `GeminiEmbedder option ${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/**
 * An {@link EmbeddingProvider} on the Gemini API through `@google/genai`: one
 * `models.embedContent` call per request, which the SDK sends as
 * `POST {baseUrl}/v1/models/{model}:batchEmbedContents` with one entry per text, the task type
 * (`RETRIEVAL_DOCUMENT` or `RETRIEVAL_QUERY`) and `outputDimensionality`. Vectors are
 * L2-normalised here: the API normalises only full-length (3,072) output.
 *
 * The SDK's own retries are off: a 429 becomes `TransientError('EMBEDDING_RATE_LIMITED')` with
 * `details.retryAfterMs` (from `Retry-After`, else the body's RetryInfo), and the caller's retry
 * loop waits that long. 5xx, timeouts and network failures are `EMBEDDING_FAILED` (retriable); a
 * rejected request (400, 404) is a `PermanentError`.
 */
export class GeminiEmbedder implements EmbeddingProvider {
  readonly model: string;
  readonly dimension: number;
  readonly maxBatchSize: number;
  readonly longText: GeminiLongTextPolicy;
  readonly maxInputChars: number;
  readonly stats: GeminiEmbedderStats = { requests: 0, texts: 0, truncatedTexts: 0 };
  readonly #apiKey: string;
  readonly #timeoutMs: number;
  readonly #logger: Logger | undefined;
  readonly #client: GenAI.GoogleGenAI;

  constructor(options: GeminiEmbedderOptions) {
    if (typeof options.apiKey !== 'string' || options.apiKey.trim() === '') {
      throw new PermanentError('INVALID_OPTIONS', 'GeminiEmbedder needs an API key (GEMINI_API_KEY)');
    }
    this.#apiKey = options.apiKey;
    this.model = options.model ?? 'gemini-embedding-001';
    this.dimension = checkInteger('dimension', options.dimension ?? 768, 1, 3072);
    this.maxBatchSize = checkInteger('maxBatchSize', options.maxBatchSize ?? GEMINI_MAX_BATCH_SIZE, 1, GEMINI_MAX_BATCH_SIZE);
    this.maxInputChars = checkInteger('maxInputChars', options.maxInputChars ?? GEMINI_DEFAULT_MAX_INPUT_CHARS, 1, 1_000_000);
    this.#timeoutMs = checkInteger('timeoutMs', options.timeoutMs ?? 30_000, 1, 600_000);
    this.longText = options.longText ?? 'truncate';
    if (this.longText !== 'truncate' && this.longText !== 'fail') {
      throw new PermanentError('INVALID_OPTIONS', `GeminiEmbedder option longText must be truncate or fail, got ${String(options.longText)}`);
    }
    this.#logger = options.logger;
    // Loaded here, not at the top: the SDK takes ~300 ms to load, which every process importing
    // this package (the CLI, services on the local embedder) would pay for nothing.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { GoogleGenAI } = require('@google/genai') as typeof GenAI;
    this.#client = new GoogleGenAI({
      apiKey: options.apiKey,
      // No SDK retries (its default is none too; said here so an SDK change cannot double ours).
      httpOptions: { timeout: this.#timeoutMs, ...(options.baseUrl === undefined ? {} : { baseUrl: options.baseUrl }) },
    });
  }

  async embed(texts: string[], kind: EmbeddingKind): Promise<Float32Array[]> {
    if (texts.length > this.maxBatchSize) {
      throw new PermanentError('INTERNAL', `GeminiEmbedder got ${texts.length} texts in one request; maxBatchSize is ${this.maxBatchSize}`);
    }
    if (texts.length === 0) return [];
    const contents = texts.map((text, i) => this.#fit(text, i));
    // The SDK's ApiError has the status but not the headers; a fetch of our own per call keeps
    // the Retry-After of this very request.
    let retryAfter: string | null = null;
    const fetchKeepingRetryAfter = async (input: Parameters<typeof fetch>[0], init?: RequestInit): Promise<Response> => {
      const response = await fetch(input, init);
      if (!response.ok) retryAfter = response.headers.get('retry-after');
      return response;
    };
    this.stats.requests += 1;
    this.stats.texts += texts.length;
    let embeddings: Array<{ values?: number[] }> | undefined;
    try {
      const response = await this.#client.models.embedContent({
        model: this.model,
        contents,
        config: { taskType: TASK_TYPES[kind], outputDimensionality: this.dimension, httpOptions: { fetch: fetchKeepingRetryAfter } },
      });
      embeddings = response.embeddings;
    } catch (error) {
      throw this.#error(error, retryAfter, texts.length);
    }
    return this.#vectors(embeddings, texts.length);
  }

  /** Applies the long-text policy to one text. */
  #fit(text: string, index: number): string {
    if (text.length <= this.maxInputChars) return text;
    if (this.longText === 'fail') {
      throw new PermanentError(
        'INVALID_OPTIONS',
        `text ${index} of the request has ${text.length} characters; ${this.model} takes about ${this.maxInputChars} (${GEMINI_MAX_INPUT_TOKENS} tokens) and GEMINI_LONG_TEXT is fail: use smaller chunks or GEMINI_LONG_TEXT=truncate`,
      );
    }
    this.stats.truncatedTexts += 1;
    this.#logger?.warn('truncated a text longer than the embedding model takes', { model: this.model, characters: text.length, maxInputChars: this.maxInputChars });
    let end = this.maxInputChars;
    // Never cut between the two halves of a surrogate pair: a lone half is not valid UTF-8.
    const last = text.charCodeAt(end - 1);
    if (last >= 0xd800 && last <= 0xdbff) end -= 1;
    return text.slice(0, end);
  }

  #vectors(embeddings: Array<{ values?: number[] }> | undefined, expected: number): Float32Array[] {
    if (!Array.isArray(embeddings) || embeddings.length !== expected) {
      const got = Array.isArray(embeddings) ? embeddings.length : 'no';
      throw new TransientError('EMBEDDING_FAILED', `Gemini ${this.model} returned ${got} embeddings for ${expected} texts`);
    }
    return embeddings.map(({ values }, i) => {
      if (!Array.isArray(values) || values.length !== this.dimension) {
        const got = Array.isArray(values) ? `dimension ${values.length}` : 'no values';
        throw new PermanentError('DIMENSION_MISMATCH', `Gemini ${this.model} returned ${got} for text ${i}; expected dimension ${this.dimension}`);
      }
      const vector = Float32Array.from(values);
      let sum = 0;
      for (const value of vector) sum += value * value;
      if (!(sum > 0) || !Number.isFinite(sum)) {
        throw new TransientError('EMBEDDING_FAILED', `Gemini ${this.model} returned a vector without a direction for text ${i}`);
      }
      const scale = 1 / Math.sqrt(sum);
      for (let j = 0; j < vector.length; j++) vector[j]! *= scale;
      return vector;
    });
  }

  /** Turns whatever the SDK threw into our error, with the API key scrubbed from every word of it. */
  #error(error: unknown, retryAfter: string | null, texts: number): DocintelError {
    if (error instanceof DocintelError) return error;
    const scrub = (text: string) => text.replaceAll(this.#apiKey, '***');
    const what = `Gemini ${this.model} (${texts} texts)`;
    const first = causeChain(error)[0];
    const status = first?.name === 'ApiError' ? (error as { status?: unknown }).status : undefined;
    // Only an error that does not spell the key may travel as the cause.
    const cause = containsSecret(error, this.#apiKey) ? {} : { cause: error };
    if (typeof status === 'number') {
      const { message, body } = apiErrorMessage(first!.message);
      const details = { status };
      if (status === 429) {
        const retryAfterMs = parseRetryAfter(retryAfter) ?? retryDelayOf(body);
        return new TransientError('EMBEDDING_RATE_LIMITED', scrub(`${what} was rate limited (429): ${message}`), {
          ...cause,
          details: retryAfterMs === undefined ? details : { ...details, retryAfterMs },
        });
      }
      if (status >= 500 || status === 408) return new TransientError('EMBEDDING_FAILED', scrub(`${what} failed with ${status}: ${message}`), { ...cause, details });
      // A rejected key is the deployment's fault, not the message's: retriable, so the circuit
      // breaker pauses consumption instead of sending every message to the DLQ.
      if (status === 401 || status === 403 || JSON.stringify(body).includes('API_KEY_INVALID')) {
        return new TransientError('EMBEDDING_FAILED', `${what}: the API key (GEMINI_API_KEY) was rejected (${status})`, { details });
      }
      return new PermanentError('EMBEDDING_FAILED', scrub(`${what} was rejected with ${status}: ${message}`), { ...cause, details });
    }
    // The SDK wraps what is not an Error of its realm (a DOMException under jest) in an Error, so
    // look down the cause chain for the abort of its timeout.
    if (causeChain(error).some((item) => item.name === 'AbortError' || item.name === 'TimeoutError')) {
      return new TransientError('EMBEDDING_FAILED', `${what} timed out after ${this.#timeoutMs} ms`, cause);
    }
    return new TransientError('EMBEDDING_FAILED', scrub(`${what} failed: ${describeNetworkError(error)}`), cause);
  }
}

/** The SDK puts the response body (JSON) in ApiError's message; pull Google's own message out of it. */
function apiErrorMessage(raw: string): { message: string; body: unknown } {
  try {
    const body = JSON.parse(raw) as { error?: { message?: unknown } };
    const message = typeof body.error?.message === 'string' ? body.error.message : raw;
    return { message: message.slice(0, 500), body };
  } catch {
    return { message: raw.slice(0, 500), body: undefined };
  }
}

/** `Retry-After` in seconds or as an HTTP date, in milliseconds from now. */
export function parseRetryAfter(header: string | null | undefined, now = Date.now()): number | undefined {
  if (header === null || header === undefined || header.trim() === '') return undefined;
  const text = header.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** google.rpc.RetryInfo's `retryDelay` ("37s", "1.5s") in a Google error body, in milliseconds. */
function retryDelayOf(body: unknown): number | undefined {
  const details = (body as { error?: { details?: unknown } } | undefined)?.error?.details;
  if (!Array.isArray(details)) return undefined;
  for (const detail of details as Array<{ '@type'?: unknown; retryDelay?: unknown }>) {
    const match = typeof detail.retryDelay === 'string' ? /^(\d+(?:\.\d+)?)s$/.exec(detail.retryDelay) : null;
    if (String(detail['@type']).endsWith('google.rpc.RetryInfo') && match !== null) return Math.round(Number(match[1]) * 1000);
  }
  return undefined;
}

interface ErrorLike {
  name: string;
  message: string;
  stack?: string;
  code?: unknown;
}

/** The error and its causes, by shape: errors of fetch and of the SDK may come from another realm (jest's), where `instanceof Error` fails. */
function causeChain(error: unknown): ErrorLike[] {
  const chain: ErrorLike[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null && 'message' in current; depth++) {
    const item = current as ErrorLike & { cause?: unknown };
    chain.push({ name: String(item.name), message: String(item.message), ...(item.stack === undefined ? {} : { stack: item.stack }), code: item.code });
    current = item.cause;
  }
  return chain;
}

/** fetch's "fetch failed" says nothing; a cause's code (ECONNREFUSED, UND_ERR_SOCKET) does. */
function describeNetworkError(error: unknown): string {
  const chain = causeChain(error);
  if (chain.length === 0) return String(error);
  const code = chain.map((item) => item.code).find((value) => typeof value === 'string');
  return code === undefined ? chain[0]!.message : `${chain[0]!.message} (${String(code)})`;
}

function containsSecret(error: unknown, secret: string): boolean {
  const chain = causeChain(error);
  if (chain.length === 0) return String(error).includes(secret);
  return chain.some((item) => `${item.message}${item.stack ?? ''}`.includes(secret));
}
