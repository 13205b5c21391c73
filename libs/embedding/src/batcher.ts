import { PermanentError, TransientError } from '@docintel/core';
import type { EmbeddingKind, EmbeddingProvider } from './provider';

/** Options of {@link EmbeddingBatcher}. */
export interface EmbeddingBatcherOptions {
  provider: EmbeddingProvider;
  /** How long a partly filled request waits for more texts before it is sent. @default 20 (ms) */
  lingerMs?: number;
  /** Provider requests in flight at once; further full requests wait for a free slot. @default 4 */
  maxConcurrentRequests?: number;
  /** Called after every provider request, for metrics. Must not throw. */
  onRequest?: (event: EmbeddingRequestEvent) => void;
}

/** What {@link EmbeddingBatcherOptions.onRequest} learns about one provider request. */
export interface EmbeddingRequestEvent {
  kind: EmbeddingKind;
  texts: number;
  durationMs: number;
  /** The request's error, when it failed. */
  error?: unknown;
}

/** One `embed` call waiting for its vectors. */
interface Caller {
  readonly texts: string[];
  readonly vectors: Float32Array[];
  remaining: number;
  settled: boolean;
  resolve(vectors: Float32Array[]): void;
  reject(error: unknown): void;
}

/** Texts `[start, end)` of one caller that no request has taken yet. */
interface Segment {
  caller: Caller;
  start: number;
  end: number;
}

/** The texts waiting for one kind; only texts of the same kind share a request. */
interface Lane {
  readonly kind: EmbeddingKind;
  segments: Segment[];
  /** Texts in `segments` (of callers not yet settled, as far as we know). */
  count: number;
  timer: NodeJS.Timeout | undefined;
  /** The linger of the oldest waiting text has passed: send whatever waits. */
  due: boolean;
}

function checkPositiveInteger(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new PermanentError('INVALID_OPTIONS', `EmbeddingBatcher option ${name} must be a positive integer, got ${String(value)}`);
  }
  return value;
}

/**
 * Packs concurrent `embed` calls of many callers into as few provider requests as the provider
 * allows. A request carries at most `provider.maxBatchSize` texts; it is sent as soon as it is
 * full, or `lingerMs` after its first text arrived. Requests are cut only when a concurrency slot
 * is free, so texts that arrive while the provider is busy join the next request instead of
 * queueing as small ones. A caller's texts may be spread over several requests; its promise
 * resolves with its own vectors in order, or rejects with the error of the first failed request
 * that carried any of its texts (its texts not yet sent are then dropped).
 */
export class EmbeddingBatcher {
  readonly #provider: EmbeddingProvider;
  readonly #lingerMs: number;
  readonly #maxConcurrent: number;
  readonly #batchSize: number;
  readonly #onRequest: ((event: EmbeddingRequestEvent) => void) | undefined;
  readonly #lanes = new Map<EmbeddingKind, Lane>();
  /** One promise per request in flight, resolved when it finishes; close() waits on them. */
  readonly #inFlight = new Set<Promise<void>>();
  #closing = false;
  #closed: Promise<void> | undefined;

  constructor(options: EmbeddingBatcherOptions) {
    this.#provider = options.provider;
    this.#lingerMs = options.lingerMs ?? 20;
    if (!Number.isFinite(this.#lingerMs) || this.#lingerMs < 0) {
      throw new PermanentError('INVALID_OPTIONS', `EmbeddingBatcher option lingerMs must be a number >= 0, got ${String(options.lingerMs)}`);
    }
    this.#maxConcurrent = checkPositiveInteger('maxConcurrentRequests', options.maxConcurrentRequests ?? 4);
    this.#batchSize = checkPositiveInteger('provider.maxBatchSize', options.provider.maxBatchSize);
    this.#onRequest = options.onRequest;
  }

  /** Texts waiting for a request. */
  get pending(): number {
    let total = 0;
    for (const lane of this.#lanes.values()) total += lane.count;
    return total;
  }

  /** Provider requests in flight. */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  /** Embeds `texts` (any number) with whichever requests carry them. Resolves with one vector per text, in order. */
  embed(texts: string[], kind: EmbeddingKind): Promise<Float32Array[]> {
    if (this.#closing) {
      return Promise.reject(new TransientError('EMBEDDING_FAILED', 'the embedding batcher is closed'));
    }
    if (texts.length === 0) return Promise.resolve([]);
    return new Promise<Float32Array[]>((resolve, reject) => {
      const caller: Caller = { texts, vectors: new Array<Float32Array>(texts.length), remaining: texts.length, settled: false, resolve, reject };
      const lane = this.#lane(kind);
      lane.segments.push({ caller, start: 0, end: texts.length });
      lane.count += texts.length;
      if (lane.timer === undefined && !lane.due) {
        lane.timer = setTimeout(() => {
          lane.timer = undefined;
          lane.due = true;
          this.#pump();
        }, this.#lingerMs);
      }
      this.#pump();
    });
  }

  /** Sends every waiting text now and waits until all requests have finished. Later `embed` calls reject. Idempotent. */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    this.#pump();
    while (this.#inFlight.size > 0) {
      // Each finished request pumps the next, so waiting for any one in a loop drains everything.
      await Promise.race(this.#inFlight);
    }
  }

  #lane(kind: EmbeddingKind): Lane {
    let lane = this.#lanes.get(kind);
    if (lane === undefined) {
      lane = { kind, segments: [], count: 0, timer: undefined, due: false };
      this.#lanes.set(kind, lane);
    }
    return lane;
  }

  /** Sends requests while a slot is free and some lane is full, due, or closing. */
  #pump(): void {
    for (const lane of this.#lanes.values()) {
      while (this.#inFlight.size < this.#maxConcurrent && lane.count > 0 && (lane.count >= this.#batchSize || lane.due || this.#closing)) {
        this.#send(lane, this.#cut(lane));
      }
      if (lane.count === 0) {
        // Nothing waits: the next text starts a fresh linger.
        lane.due = false;
        if (lane.timer !== undefined) clearTimeout(lane.timer);
        lane.timer = undefined;
      }
    }
  }

  /** Takes up to one request's worth of texts from the front of the lane, skipping failed callers. */
  #cut(lane: Lane): Segment[] {
    const taken: Segment[] = [];
    let size = 0;
    while (size < this.#batchSize && lane.segments.length > 0) {
      const segment = lane.segments[0]!;
      const length = segment.end - segment.start;
      if (segment.caller.settled) {
        lane.segments.shift();
        lane.count -= length;
        continue;
      }
      const take = Math.min(length, this.#batchSize - size);
      taken.push({ caller: segment.caller, start: segment.start, end: segment.start + take });
      size += take;
      lane.count -= take;
      if (take === length) lane.segments.shift();
      else segment.start += take;
    }
    return taken;
  }

  #send(lane: Lane, segments: Segment[]): void {
    const texts: string[] = [];
    for (const { caller, start, end } of segments) {
      for (let i = start; i < end; i++) texts.push(caller.texts[i]!);
    }
    if (texts.length === 0) return;
    const started = performance.now();
    let release!: () => void;
    const slot = new Promise<void>((resolve) => (release = resolve));
    this.#inFlight.add(slot);
    // Callers are settled first so a failed caller's remaining texts are dropped, then the slot is
    // freed and the next request sent in the same tick, before any caller's continuation runs.
    const finish = (error: unknown): void => {
      this.#inFlight.delete(slot);
      release();
      this.#report(lane.kind, texts.length, started, error);
      this.#pump();
    };
    void this.#request(texts, lane.kind).then(
      (vectors) => {
        this.#deliver(segments, vectors, texts.length);
        finish(undefined);
      },
      (error: unknown) => {
        for (const { caller } of segments) settleWithError(caller, error);
        finish(error);
      },
    );
  }

  /** Calls the provider, turning a synchronous throw into a rejection. */
  async #request(texts: string[], kind: EmbeddingKind): Promise<Float32Array[]> {
    return this.#provider.embed(texts, kind);
  }

  #deliver(segments: Segment[], vectors: Float32Array[], expected: number): void {
    const error = this.#checkVectors(vectors, expected);
    if (error !== undefined) {
      for (const { caller } of segments) settleWithError(caller, error);
      return;
    }
    let offset = 0;
    for (const { caller, start, end } of segments) {
      for (let i = start; i < end; i++) caller.vectors[i] = vectors[offset++]!;
      caller.remaining -= end - start;
      if (caller.remaining === 0 && !caller.settled) {
        caller.settled = true;
        caller.resolve(caller.vectors);
      }
    }
  }

  /** A provider that breaks its contract must fail its callers, not hand them vectors that break the store. */
  #checkVectors(vectors: unknown, expected: number): Error | undefined {
    const model = this.#provider.model;
    if (!Array.isArray(vectors) || vectors.length !== expected) {
      const got = Array.isArray(vectors) ? vectors.length : 'no';
      return new TransientError('EMBEDDING_FAILED', `embedding provider ${model} returned ${got} vectors for ${expected} texts`);
    }
    const dimension = this.#provider.dimension;
    const wrong = (vectors as unknown[]).find((v) => !(v instanceof Float32Array) || v.length !== dimension);
    if (wrong !== undefined) {
      const got = wrong instanceof Float32Array ? `a vector of dimension ${wrong.length}` : 'a value that is not a Float32Array';
      return new PermanentError('DIMENSION_MISMATCH', `embedding provider ${model} returned ${got}; expected dimension ${dimension}`);
    }
    return undefined;
  }

  #report(kind: EmbeddingKind, texts: number, started: number, error: unknown): void {
    if (this.#onRequest === undefined) return;
    const event: EmbeddingRequestEvent = { kind, texts, durationMs: performance.now() - started };
    if (error !== undefined) event.error = error;
    try {
      this.#onRequest(event);
    } catch {
      // A broken metrics hook must not fail the callers whose vectors are ready.
    }
  }
}

function settleWithError(caller: Caller, error: unknown): void {
  if (caller.settled) return;
  caller.settled = true;
  caller.reject(error);
}
