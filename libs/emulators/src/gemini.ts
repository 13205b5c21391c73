import { LocalEmbedder } from '@docintel/embedding';
import { ApiFailure, type ApiReply, type ApiRequest, type Emulator, type EmulatorApi, type EmulatorServerOptions } from './api';
import { EmulatorServer } from './server';

/** Options of {@link startGeminiEmulator}. */
export interface GeminiEmulatorOptions extends EmulatorServerOptions {
  /** When set, every request must carry it (`x-goog-api-key` header or `?key=`), as the real API requires. */
  apiKey?: string;
  /** Models served; others are answered 404. @default ['gemini-embedding-001'] */
  models?: string[];
  /** Texts per `batchEmbedContents` request. @default 100 */
  maxBatchSize?: number;
  /** The model's input limit in tokens, estimated as ceil(characters / 4) since the emulator has no tokenizer; longer texts are answered 400. @default 2048 */
  maxInputTokens?: number;
  /** The model's full output dimension. Like the real API, only vectors of this length come back L2-normalised. @default 3072 */
  nativeDimension?: number;
}

/** A running Gemini emulator. */
export type GeminiEmulator = Emulator;

const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  413: 'INVALID_ARGUMENT',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

const TASK_TYPES = new Set([
  'TASK_TYPE_UNSPECIFIED',
  'RETRIEVAL_QUERY',
  'RETRIEVAL_DOCUMENT',
  'SEMANTIC_SIMILARITY',
  'CLASSIFICATION',
  'CLUSTERING',
  'QUESTION_ANSWERING',
  'FACT_VERIFICATION',
  'CODE_RETRIEVAL_QUERY',
]);

const ROUTE = /^\/v1(?:beta)?\/models\/([^/:]+):(batchEmbedContents|embedContent)$/;

/** One embedding request of a batch, as the REST API takes it. */
interface EmbedRequest {
  model?: unknown;
  content?: { parts?: Array<{ text?: unknown }> };
  taskType?: unknown;
  outputDimensionality?: unknown;
}

/** The Gemini API's error format: `{ error: { code, message, status, details } }`; a 429 carries a RetryInfo. */
function geminiError(status: number, message: string, extra: { retryAfterSeconds?: number; details?: unknown[] } = {}): unknown {
  const { retryAfterSeconds } = extra;
  const details: unknown[] = [...(extra.details ?? [])];
  if (retryAfterSeconds !== undefined) details.push({ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryAfterSeconds}s` });
  return { error: { code: status, message, status: STATUS_NAMES[status] ?? (status >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION'), details } };
}

/** FNV-1a over a text: the seed of the length an unnormalised vector gets. */
function textHash(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

class GeminiApi implements EmulatorApi {
  readonly secretHeaders = ['x-goog-api-key', 'authorization'];
  readonly #apiKey: string | undefined;
  readonly #models: Set<string>;
  readonly #maxBatchSize: number;
  readonly #maxInputTokens: number;
  readonly #nativeDimension: number;
  /** One deterministic embedder per requested dimension. */
  readonly #embedders = new Map<number, LocalEmbedder>();
  #texts = 0;
  #tokens = 0;

  constructor(options: GeminiEmulatorOptions) {
    this.#apiKey = options.apiKey;
    this.#models = new Set(options.models ?? ['gemini-embedding-001']);
    this.#maxBatchSize = options.maxBatchSize ?? 100;
    this.#maxInputTokens = options.maxInputTokens ?? 2048;
    this.#nativeDimension = options.nativeDimension ?? 3072;
  }

  endpoint(method: string, path: string): string | undefined {
    const match = ROUTE.exec(path);
    return method === 'POST' && match !== null ? match[2] : undefined;
  }

  handle(endpoint: string, request: ApiRequest): ApiReply {
    this.#authenticate(request);
    const model = decodeURIComponent(ROUTE.exec(request.path)![1]!);
    if (!this.#models.has(model)) {
      throw new ApiFailure(404, `models/${model} is not found for API version v1beta, or is not supported for embedContent.`);
    }
    const body = (request.body ?? {}) as { requests?: unknown };
    if (endpoint === 'embedContent') {
      return { status: 200, body: { embedding: { values: this.#embed(body as EmbedRequest, model, 'request') } } };
    }
    const requests = body.requests;
    if (!Array.isArray(requests) || requests.length === 0) throw new ApiFailure(400, '* BatchEmbedContentsRequest.requests: must not be empty');
    if (requests.length > this.#maxBatchSize) {
      throw new ApiFailure(400, `* BatchEmbedContentsRequest.requests: at most ${this.#maxBatchSize} requests can be in one batch`);
    }
    const embeddings = (requests as EmbedRequest[]).map((item, i) => {
      if (item.model !== `models/${model}`) {
        throw new ApiFailure(400, `* BatchEmbedContentsRequest.requests[${i}].model: the model of every request must be the one in the URL (models/${model})`);
      }
      return { values: this.#embed(item, model, `requests[${i}]`) };
    });
    return { status: 200, body: { embeddings } };
  }

  errorBody(status: number, message: string, extra?: { retryAfterSeconds?: number; details?: unknown[] }): unknown {
    return geminiError(status, message, extra);
  }

  counters(): Record<string, number> {
    return { texts: this.#texts, estimatedTokens: this.#tokens };
  }

  reset(): void {
    this.#texts = 0;
    this.#tokens = 0;
  }

  #authenticate(request: ApiRequest): void {
    if (this.#apiKey === undefined) return;
    const header = request.headers['x-goog-api-key'];
    const key = (Array.isArray(header) ? header[0] : header) ?? request.query.get('key') ?? undefined;
    if (key === undefined) {
      throw new ApiFailure(403, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.");
    }
    // Like Google's answer, the message never repeats the key it got.
    if (key !== this.#apiKey) {
      const info = { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com', metadata: { service: 'generativelanguage.googleapis.com' } };
      throw new ApiFailure(400, 'API key not valid. Please pass a valid API key.', [info]);
    }
  }

  #embed(item: EmbedRequest, model: string, where: string): number[] {
    const parts = item.content?.parts;
    if (!Array.isArray(parts) || parts.length === 0 || parts.some((part) => typeof part?.text !== 'string')) {
      throw new ApiFailure(400, `* BatchEmbedContentsRequest.${where}.content.parts: must be a non-empty list of text parts`);
    }
    const text = parts.map((part) => part.text as string).join('');
    if (item.taskType !== undefined && !TASK_TYPES.has(item.taskType as string)) {
      throw new ApiFailure(400, `Invalid value at '${where}.task_type' (type.googleapis.com/google.ai.generativelanguage.v1beta.TaskType), ${JSON.stringify(item.taskType)}`);
    }
    const dimension = item.outputDimensionality ?? this.#nativeDimension;
    if (typeof dimension !== 'number' || !Number.isInteger(dimension) || dimension < 1 || dimension > this.#nativeDimension) {
      throw new ApiFailure(400, `* ${where}.output_dimensionality: must be an integer from 1 to ${this.#nativeDimension} for ${model}`);
    }
    const tokens = Math.ceil(text.length / 4);
    if (tokens > this.#maxInputTokens) {
      throw new ApiFailure(400, `The input token count (${tokens}) exceeds the maximum number of tokens allowed (${this.#maxInputTokens}).`);
    }
    this.#texts++;
    this.#tokens += tokens;
    let embedder = this.#embedders.get(dimension);
    if (embedder === undefined) {
      embedder = new LocalEmbedder({ dimension });
      this.#embedders.set(dimension, embedder);
    }
    // The task type does not change the vector, so queries and documents of one text meet in search.
    const vector = embedder.embedOne(text);
    if (dimension === this.#nativeDimension) return Array.from(vector);
    // Truncated output is not normalised by the real API; a length from 0.5 to 1.5 per text makes
    // a client that forgets to normalise visible in tests.
    const scale = 0.5 + textHash(text) / 4_294_967_296;
    return Array.from(vector, (value) => value * scale);
  }
}

/**
 * Starts a local HTTP server that speaks the Gemini API's embedding endpoints as `@google/genai`
 * calls them (`POST /v1/models/{model}:batchEmbedContents`, the SDK's 3.x default version, and
 * `:embedContent`; `/v1beta/...` alike; key in `x-goog-api-key`): deterministic vectors from the project's feature-hashing embedder, the real
 * limits (100 texts per batch, 2,048 input tokens, dimensions up to 3,072), Google's error format,
 * and the faults of {@link Faults}. Point the SDK at it with `httpOptions: { baseUrl: emulator.url }`.
 */
export async function startGeminiEmulator(options: GeminiEmulatorOptions = {}): Promise<GeminiEmulator> {
  return EmulatorServer.start(new GeminiApi(options), options);
}
