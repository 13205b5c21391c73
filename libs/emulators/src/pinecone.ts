import { checkMetadata, matchesFilter, type Metadata } from './pinecone-filter';
import { ApiFailure, type ApiReply, type ApiRequest, type Emulator, type EmulatorApi, type EmulatorServerOptions } from './api';
import { EmulatorServer } from './server';

/** Options of {@link startPineconeEmulator}. */
export interface PineconeEmulatorOptions extends EmulatorServerOptions {
  /** When set, every request must carry it in the `Api-Key` header; others are answered 401. */
  apiKey?: string;
  /** The index's dimension. @default 768 */
  dimension?: number;
  /** Records per upsert request. @default 1000 */
  maxUpsertRecords?: number;
  /** Size of an upsert request's body. @default 2_097_152 (2 MiB) */
  maxRequestBytes?: number;
  /** Size of one record's metadata as JSON. @default 40_960 (40 KB) */
  maxMetadataBytes?: number;
  /** Ids per delete or fetch request. @default 1000 */
  maxIdsPerRequest?: number;
  /** Most ids per page of `/vectors/list`. @default 100 */
  maxListLimit?: number;
}

/** A running Pinecone emulator. */
export type PineconeEmulator = Emulator;

interface StoredVector {
  values: number[];
  norm: number;
  metadata: Metadata | undefined;
}

/** gRPC codes in the data plane's error bodies (`{ code, message, details }`). */
const GRPC_CODES: Record<number, number> = { 400: 3, 401: 16, 404: 5, 413: 3, 429: 8, 500: 13, 503: 14, 504: 4 };

const ROUTES: Record<string, string> = {
  'POST /vectors/upsert': 'upsert',
  'POST /query': 'query',
  'POST /vectors/delete': 'delete',
  'GET /vectors/list': 'list',
  'GET /vectors/fetch': 'fetch',
  'POST /describe_index_stats': 'describeIndexStats',
  'GET /describe_index_stats': 'describeIndexStats',
};

function object(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiFailure(400, 'the request body must be a JSON object');
  return body as Record<string, unknown>;
}

function namespaceOf(value: unknown): string {
  if (value === undefined) return '';
  if (typeof value !== 'string') throw new ApiFailure(400, 'namespace must be a string');
  return value;
}

class PineconeApi implements EmulatorApi {
  readonly secretHeaders = ['api-key', 'authorization'];
  readonly #options: Required<Omit<PineconeEmulatorOptions, keyof EmulatorServerOptions | 'apiKey'>>;
  readonly #apiKey: string | undefined;
  /** namespace -> id -> vector. A namespace disappears with its last vector. */
  readonly #namespaces = new Map<string, Map<string, StoredVector>>();
  #upserted = 0;
  #deleted = 0;

  constructor(options: PineconeEmulatorOptions) {
    this.#apiKey = options.apiKey;
    this.#options = {
      dimension: options.dimension ?? 768,
      maxUpsertRecords: options.maxUpsertRecords ?? 1000,
      maxRequestBytes: options.maxRequestBytes ?? 2 * 1024 * 1024,
      maxMetadataBytes: options.maxMetadataBytes ?? 40_960,
      maxIdsPerRequest: options.maxIdsPerRequest ?? 1000,
      maxListLimit: options.maxListLimit ?? 100,
    };
  }

  endpoint(method: string, path: string): string | undefined {
    return ROUTES[`${method} ${path}`];
  }

  handle(endpoint: string, request: ApiRequest): ApiReply {
    const key = request.headers['api-key'];
    // The real data plane answers a bad key with a plain-text 401 and never repeats the key.
    if (this.#apiKey !== undefined && key !== this.#apiKey) throw new ApiFailure(401, 'Invalid API Key');
    switch (endpoint) {
      case 'upsert':
        return this.#upsert(object(request.body), request.bytes);
      case 'query':
        return this.#query(object(request.body));
      case 'delete':
        return this.#delete(object(request.body));
      case 'list':
        return this.#list(request.query);
      case 'fetch':
        return this.#fetch(request.query);
      default:
        return this.#describe();
    }
  }

  errorBody(status: number, message: string): unknown {
    if (status === 401) return message;
    return { code: GRPC_CODES[status] ?? (status >= 500 ? 13 : 2), message, details: [] };
  }

  counters(): Record<string, number> {
    let vectors = 0;
    for (const namespace of this.#namespaces.values()) vectors += namespace.size;
    return { vectors, namespaces: this.#namespaces.size, upserted: this.#upserted, deleted: this.#deleted };
  }

  reset(): void {
    this.#namespaces.clear();
    this.#upserted = 0;
    this.#deleted = 0;
  }

  #upsert(body: Record<string, unknown>, bytes: number): ApiReply {
    const limits = this.#options;
    if (bytes > limits.maxRequestBytes) {
      throw new ApiFailure(400, `Request size ${bytes} bytes exceeds the maximum supported size of ${limits.maxRequestBytes} bytes`);
    }
    const vectors = body.vectors;
    if (!Array.isArray(vectors) || vectors.length === 0) throw new ApiFailure(400, 'vectors must be a non-empty list');
    if (vectors.length > limits.maxUpsertRecords) throw new ApiFailure(400, `Batch size ${vectors.length} exceeds the maximum of ${limits.maxUpsertRecords} vectors per upsert`);
    const namespace = namespaceOf(body.namespace);
    // Everything is checked before anything is written: a rejected request changes nothing.
    const checked = vectors.map((vector: unknown): [string, StoredVector] => {
      const { id, values, metadata } = object(vector);
      if (typeof id !== 'string' || id === '' || id.length > 512) throw new ApiFailure(400, 'every vector needs an id of 1 to 512 characters');
      if (!Array.isArray(values) || !values.every((value) => typeof value === 'number' && Number.isFinite(value))) {
        throw new ApiFailure(400, `Vector ${id} needs values: a list of numbers`);
      }
      this.#checkDimension(values.length);
      checkMetadata(id, metadata, limits.maxMetadataBytes);
      return [id, { values: values as number[], norm: Math.hypot(...(values as number[])), metadata: metadata as Metadata | undefined }];
    });
    let stored = this.#namespaces.get(namespace);
    if (stored === undefined) {
      stored = new Map();
      this.#namespaces.set(namespace, stored);
    }
    for (const [id, vector] of checked) stored.set(id, vector);
    this.#upserted += checked.length;
    return { status: 200, body: { upsertedCount: checked.length } };
  }

  #query(body: Record<string, unknown>): ApiReply {
    const namespace = namespaceOf(body.namespace);
    const topK = body.topK;
    if (typeof topK !== 'number' || !Number.isInteger(topK) || topK < 1 || topK > 10_000) throw new ApiFailure(400, 'topK must be an integer from 1 to 10000');
    const stored = this.#namespaces.get(namespace);
    let query: number[] | undefined;
    if (body.id !== undefined) {
      if (typeof body.id !== 'string') throw new ApiFailure(400, 'id must be a string');
      query = stored?.get(body.id)?.values;
    } else {
      if (!Array.isArray(body.vector)) throw new ApiFailure(400, 'a query needs a vector or an id');
      query = body.vector as number[];
      this.#checkDimension(query.length);
    }
    const matches: Array<{ id: string; score: number; vector: StoredVector }> = [];
    if (query !== undefined && stored !== undefined) {
      const norm = Math.hypot(...query);
      for (const [id, vector] of stored) {
        if (body.filter !== undefined && !matchesFilter(vector.metadata, body.filter)) continue;
        let dot = 0;
        for (let i = 0; i < query.length; i++) dot += query[i]! * vector.values[i]!;
        matches.push({ id, score: norm === 0 || vector.norm === 0 ? 0 : dot / (norm * vector.norm), vector });
      }
    }
    matches.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
    const out = matches.slice(0, topK).map(({ id, score, vector }) => ({
      id,
      score,
      values: body.includeValues === true ? vector.values : [],
      ...(body.includeMetadata === true && vector.metadata !== undefined ? { metadata: vector.metadata } : {}),
    }));
    return { status: 200, body: { results: [], matches: out, namespace, usage: { readUnits: 1 } } };
  }

  #delete(body: Record<string, unknown>): ApiReply {
    const namespace = namespaceOf(body.namespace);
    const modes = [body.ids !== undefined, body.deleteAll === true, body.filter !== undefined].filter(Boolean).length;
    if (modes !== 1) throw new ApiFailure(400, 'a delete takes exactly one of ids, deleteAll or filter');
    const stored = this.#namespaces.get(namespace);
    if (stored === undefined) throw new ApiFailure(404, 'Namespace not found');
    const before = stored.size;
    if (body.deleteAll === true) {
      stored.clear();
    } else if (body.filter !== undefined) {
      for (const [id, vector] of stored) if (matchesFilter(vector.metadata, body.filter)) stored.delete(id);
    } else {
      const ids = body.ids;
      if (!Array.isArray(ids) || ids.length === 0 || !ids.every((id) => typeof id === 'string')) throw new ApiFailure(400, 'ids must be a non-empty list of strings');
      if (ids.length > this.#options.maxIdsPerRequest) throw new ApiFailure(400, `a delete takes at most ${this.#options.maxIdsPerRequest} ids, got ${ids.length}`);
      for (const id of ids) stored.delete(id);
    }
    this.#deleted += before - stored.size;
    if (stored.size === 0) this.#namespaces.delete(namespace);
    return { status: 200, body: {} };
  }

  #list(query: URLSearchParams): ApiReply {
    const namespace = namespaceOf(query.get('namespace') ?? undefined);
    const prefix = query.get('prefix') ?? '';
    const limitText = query.get('limit');
    const limit = limitText === null ? this.#options.maxListLimit : Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > this.#options.maxListLimit) throw new ApiFailure(400, `limit must be an integer from 1 to ${this.#options.maxListLimit}`);
    const token = query.get('paginationToken');
    const after = token === null ? undefined : Buffer.from(token, 'base64url').toString('utf8');
    const ids = [...(this.#namespaces.get(namespace)?.keys() ?? [])].filter((id) => id.startsWith(prefix) && (after === undefined || id > after)).sort();
    const page = ids.slice(0, limit);
    const body: Record<string, unknown> = { vectors: page.map((id) => ({ id })), namespace, usage: { readUnits: 1 } };
    if (ids.length > limit) body.pagination = { next: Buffer.from(page.at(-1)!, 'utf8').toString('base64url') };
    return { status: 200, body };
  }

  #fetch(query: URLSearchParams): ApiReply {
    const namespace = namespaceOf(query.get('namespace') ?? undefined);
    const ids = query.getAll('ids');
    if (ids.length === 0) throw new ApiFailure(400, 'fetch needs at least one id');
    if (ids.length > this.#options.maxIdsPerRequest) throw new ApiFailure(400, `a fetch takes at most ${this.#options.maxIdsPerRequest} ids`);
    const stored = this.#namespaces.get(namespace);
    const vectors: Record<string, unknown> = {};
    for (const id of ids) {
      const vector = stored?.get(id);
      if (vector !== undefined) vectors[id] = { id, values: vector.values, ...(vector.metadata === undefined ? {} : { metadata: vector.metadata }) };
    }
    return { status: 200, body: { vectors, namespace, usage: { readUnits: 1 } } };
  }

  #describe(): ApiReply {
    const namespaces: Record<string, { vectorCount: number }> = {};
    let total = 0;
    for (const [name, stored] of this.#namespaces) {
      namespaces[name] = { vectorCount: stored.size };
      total += stored.size;
    }
    const body = { namespaces, dimension: this.#options.dimension, indexFullness: 0, totalVectorCount: total, metric: 'cosine', vectorType: 'dense' };
    return { status: 200, body };
  }

  #checkDimension(length: number): void {
    if (length !== this.#options.dimension) {
      throw new ApiFailure(400, `Vector dimension ${length} does not match the dimension of the index ${this.#options.dimension}`);
    }
  }
}

/**
 * Starts a local HTTP server that speaks a Pinecone serverless index's data plane as
 * `@pinecone-database/pinecone` v9 calls it (`/vectors/upsert`, `/query`, `/vectors/delete`,
 * `/vectors/list`, `/vectors/fetch`, `/describe_index_stats`, key in `Api-Key`): in-memory
 * namespaces, cosine similarity, metadata filters, the real limits (1,000 records and 2 MB per
 * upsert, 40 KB of metadata per record, 1,000 ids per delete, 100 ids per list page) and the
 * faults of {@link Faults}. Point the SDK at it with `pinecone.index({ host: emulator.url })`.
 */
export async function startPineconeEmulator(options: PineconeEmulatorOptions = {}): Promise<PineconeEmulator> {
  return EmulatorServer.start(new PineconeApi(options), options);
}
