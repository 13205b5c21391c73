import { PermanentError } from '@docintel/core';
import type { EmbeddingKind, EmbeddingProvider } from './provider';

/** Options of {@link LocalEmbedder}. */
export interface LocalEmbedderOptions {
  /** Length of every vector. @default 384 */
  dimension?: number;
  /** Most texts one `embed` call may carry. @default 100 */
  maxBatchSize?: number;
}

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
/** Stands for the start or end of a word inside character trigrams. */
const WORD_BOUNDARY = 0x02;
// Family tags keep a word, a bigram and a trigram with the same characters apart.
const TAG_UNIGRAM = 0x75;
const TAG_BIGRAM = 0x62;
const TAG_TRIGRAM = 0x74;
const TAG_EMPTY = 0x65;
// Whole words carry the most meaning; trigrams are many per word and only add fuzziness
// (plurals, inflections, typos), so they weigh less or they would drown the words.
const WEIGHT_UNIGRAM = 1;
const WEIGHT_BIGRAM = 0.8;
const WEIGHT_TRIGRAM = 0.4;

const MAX_DIMENSION = 16_384;

/** One FNV-1a step over a UTF-16 code unit. Result is an int32; callers `>>> 0` when needed. */
function fnv(hash: number, code: number): number {
  return Math.imul(hash ^ code, FNV_PRIME);
}

/** murmur3's finaliser: FNV's low bits are weak, and both the bucket and the sign come from them. */
function finalise(hash: number): number {
  let h = hash ^ (hash >>> 16);
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** 0 = not yet classified, 1 = part of a word, 2 = separator; one byte per UTF-16 code unit. */
const charClass = new Uint8Array(65_536);
const WORD_CHAR = /[\p{L}\p{N}\p{M}]/u;

function isWordChar(code: number): boolean {
  let cls = charClass[code];
  if (cls === undefined || cls === 0) {
    // Surrogate halves cannot be classified alone; counting them as word characters keeps
    // astral-plane letters (and emoji) inside their word.
    const word = (code >= 0xd800 && code <= 0xdfff) || WORD_CHAR.test(String.fromCharCode(code));
    cls = word ? 1 : 2;
    charClass[code] = cls;
  }
  return cls === 1;
}

function validateInteger(name: string, value: number, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new PermanentError('INVALID_OPTIONS', `LocalEmbedder option ${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/**
 * A deterministic embedder that needs no network and no model weights: feature hashing of
 * lower-cased words, word bigrams and character trigrams of words (FNV-1a 32, a hash-derived
 * sign per feature, sublinear term frequency), L2-normalised. Texts that share words and phrases
 * get a high cosine similarity, which is all the pipeline's tests and the demo need.
 * `document` and `query` texts are embedded alike.
 */
export class LocalEmbedder implements EmbeddingProvider {
  readonly model = 'docintel-local-v1';
  readonly dimension: number;
  readonly maxBatchSize: number;
  /** Requests and texts embedded so far, so tests can check that a cache spared the provider. */
  readonly stats = { requests: 0, texts: 0 };

  // Reused between texts: the embedder is synchronous, so no two texts interleave.
  readonly #unigrams = new Map<number, number>();
  readonly #bigrams = new Map<number, number>();
  readonly #trigrams = new Map<number, number>();

  constructor(options: LocalEmbedderOptions = {}) {
    this.dimension = validateInteger('dimension', options.dimension ?? 384, 1, MAX_DIMENSION);
    this.maxBatchSize = validateInteger('maxBatchSize', options.maxBatchSize ?? 100, 1, 100_000);
  }

  async embed(texts: string[], _kind: EmbeddingKind): Promise<Float32Array[]> {
    if (texts.length > this.maxBatchSize) {
      throw new PermanentError('INTERNAL', `LocalEmbedder got ${texts.length} texts in one request; maxBatchSize is ${this.maxBatchSize}`);
    }
    this.stats.requests += 1;
    this.stats.texts += texts.length;
    return texts.map((text) => this.embedOne(text));
  }

  /** Embeds one text synchronously. */
  embedOne(text: string): Float32Array {
    this.#count(text.toLowerCase());
    const vector = new Float32Array(this.dimension);
    const empty = this.#unigrams.size === 0;
    this.#accumulate(vector, this.#unigrams, WEIGHT_UNIGRAM);
    this.#accumulate(vector, this.#bigrams, WEIGHT_BIGRAM);
    this.#accumulate(vector, this.#trigrams, WEIGHT_TRIGRAM);
    if (empty) {
      // A zero vector has no direction (cosine is NaN); every featureless text gets the same unit vector.
      vector[finalise(fnv(FNV_OFFSET, TAG_EMPTY)) % this.dimension] = 1;
      return vector;
    }
    let sum = 0;
    for (let i = 0; i < vector.length; i++) sum += vector[i]! * vector[i]!;
    // Features can cancel out in rare collisions; fall back like an empty text rather than divide by 0.
    if (sum === 0) {
      vector[finalise(fnv(FNV_OFFSET, TAG_EMPTY)) % this.dimension] = 1;
      return vector;
    }
    const scale = 1 / Math.sqrt(sum);
    for (let i = 0; i < vector.length; i++) vector[i]! *= scale;
    return vector;
  }

  /** Counts the features of a lower-cased text, scanning code units without building substrings. */
  #count(text: string): void {
    this.#unigrams.clear();
    this.#bigrams.clear();
    this.#trigrams.clear();
    let previousWord = 0;
    let hasPrevious = false;
    let i = 0;
    const n = text.length;
    while (i < n) {
      while (i < n && !isWordChar(text.charCodeAt(i))) i++;
      if (i >= n) break;
      let word = FNV_OFFSET;
      // The two code units before the current one in "<word>", for trigrams; -1 = not yet.
      let before2 = -1;
      let before1 = WORD_BOUNDARY;
      while (i < n) {
        const code = text.charCodeAt(i);
        if (!isWordChar(code)) break;
        word = fnv(word, code);
        if (before2 !== -1) this.#trigram(before2, before1, code);
        before2 = before1;
        before1 = code;
        i++;
      }
      this.#trigram(before2, before1, WORD_BOUNDARY);
      increment(this.#unigrams, finalise(fnv(word, TAG_UNIGRAM)));
      if (hasPrevious) {
        let pair = previousWord;
        pair = fnv(pair, word & 0xff);
        pair = fnv(pair, (word >>> 8) & 0xff);
        pair = fnv(pair, (word >>> 16) & 0xff);
        pair = fnv(pair, word >>> 24);
        increment(this.#bigrams, finalise(fnv(pair, TAG_BIGRAM)));
      }
      previousWord = word;
      hasPrevious = true;
    }
  }

  #trigram(a: number, b: number, c: number): void {
    increment(this.#trigrams, finalise(fnv(fnv(fnv(fnv(FNV_OFFSET, TAG_TRIGRAM), a), b), c)));
  }

  /** Adds each feature, weighted 1 + ln(tf), to its bucket with the sign given by the hash's top bit. */
  #accumulate(vector: Float32Array, counts: Map<number, number>, weight: number): void {
    const dimension = this.dimension;
    for (const [feature, tf] of counts) {
      const value = weight * (1 + Math.log(tf));
      vector[feature % dimension]! += feature & 0x80000000 ? -value : value;
    }
  }
}

function increment(counts: Map<number, number>, feature: number): void {
  counts.set(feature, (counts.get(feature) ?? 0) + 1);
}
