import { DocintelError, PermanentError, TransientError, type ConfigError, type Logger } from '@docintel/core';
import { startPineconeEmulator, type PineconeEmulator, type PineconeEmulatorOptions, type RecordedRequest } from '@docintel/emulators';
import { PineconeStore, TEXT_TRUNCATED, createVectorStore, loadVectorStoreConfig, type PineconeStoreOptions, type VectorRecord } from '@docintel/vectorstore';

const KEY = 'pcsk_test_key_7d1e0f';
const DIMENSION = 4;

function unit(axis: number, tilt = 0): Float32Array {
  const vector = new Float32Array(DIMENSION);
  vector[axis % DIMENSION] = 1;
  vector[(axis + 1) % DIMENSION] = tilt;
  const norm = Math.hypot(...vector);
  return vector.map((value) => value / norm);
}

function record(documentId: string, version: number, chunkIndex: number, extra: Partial<VectorRecord> = {}): VectorRecord {
  return {
    id: `${documentId}#${version}#${chunkIndex}`,
    documentId,
    version,
    chunkIndex,
    text: `text ${chunkIndex} of ${documentId}`,
    title: `title of ${documentId}`,
    contentHash: `hash-${chunkIndex}`,
    vector: unit(chunkIndex),
    ...extra,
  };
}

/** The records of an upsert, or the ids of a delete, as the SDK sent them. */
const vectorsOf = (request: RecordedRequest) => (request.body as { vectors: Array<{ id: string; metadata: Record<string, unknown> }> }).vectors;
const idsOf = (request: RecordedRequest) => (request.body as { ids: string[] }).ids;

function allText(error: unknown): string {
  const parts: string[] = [];
  for (let current = error; current instanceof Error; current = current.cause) {
    parts.push(current.message, current.stack ?? '', JSON.stringify((current as DocintelError).details ?? {}));
  }
  return parts.join('\n');
}

describe('PineconeStore against the Pinecone emulator', () => {
  let emulator: PineconeEmulator;
  let stores: PineconeStore[];

  const start = async (options: PineconeEmulatorOptions = {}) => {
    await emulator?.close();
    emulator = await startPineconeEmulator({ apiKey: KEY, dimension: DIMENSION, ...options });
  };
  const open = (options: Partial<PineconeStoreOptions> = {}) => {
    const store = new PineconeStore({ apiKey: KEY, indexHost: emulator.url, dimension: DIMENSION, ...options });
    stores.push(store);
    return store;
  };
  const upserts = () => emulator.requests().filter((request) => request.path === '/vectors/upsert');
  const failure = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error as DocintelError);

  beforeEach(async () => {
    stores = [];
    emulator = await startPineconeEmulator({ apiKey: KEY, dimension: DIMENSION, recordLimit: 500 });
  });

  afterEach(async () => {
    await Promise.all(stores.map((store) => store.close()));
    await emulator.close();
  });

  it('stores every record field as metadata and queries nearest first', async () => {
    const store = open();
    const extra = { page: 3, headings: ['Travel', 'Kayaks'] } as Partial<VectorRecord>;
    await store.upsert('acme', [record('doc', 1, 0, extra), record('doc', 1, 1), record('doc', 1, 2)]);

    const metadata = vectorsOf(upserts()[0]!)[0]!.metadata;
    expect(metadata).toEqual({ documentId: 'doc', version: 1, chunkIndex: 0, text: 'text 0 of doc', title: 'title of doc', contentHash: 'hash-0', page: 3, headings: ['Travel', 'Kayaks'] });

    const matches = await store.query('acme', unit(1, 0.2), 2);
    expect(matches.map((m) => m.id)).toEqual(['doc#1#1', 'doc#1#2']);
    expect(matches[0]).toMatchObject({ documentId: 'doc', version: 1, chunkIndex: 1, text: 'text 1 of doc', title: 'title of doc' });
    expect(matches[0]!.score).toBeCloseTo(1 / Math.hypot(1, 0.2), 5);
    const [first] = await store.query('acme', unit(0), 1);
    expect(first).toMatchObject({ id: 'doc#1#0', page: 3, headings: ['Travel', 'Kayaks'] });
    expect(await store.query('globex', unit(0), 5)).toEqual([]);
  });

  it('splits upserts at 1,000 records', async () => {
    const store = open();
    const records = Array.from({ length: 2500 }, (_, i) => record('big', 1, i));
    await store.upsert('acme', records);
    expect(upserts().map((request) => vectorsOf(request).length)).toEqual([1000, 1000, 500]);
    expect(emulator.stats().counters.vectors).toBe(2500);
    expect(store.stats).toMatchObject({ upsertRequests: 3, upserted: 2500 });
  });

  it('splits upserts at 2 MB', async () => {
    const store = open();
    const records = Array.from({ length: 150 }, (_, i) => record('wide', 1, i, { text: `${i} ${'lorem ipsum '.repeat(2500)}` }));
    await store.upsert('acme', records);
    const sizes = upserts().map((request) => Number(request.headers['content-length']));
    expect(sizes.length).toBeGreaterThan(2);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(2_000_000);
    expect(upserts().reduce((sum, request) => sum + vectorsOf(request).length, 0)).toBe(150);
    expect(emulator.stats().counters.vectors).toBe(150);
  });

  it('trims text to the 40 KB metadata limit, flags it and counts it', async () => {
    const warn = jest.fn();
    const store = open({ logger: { warn } as unknown as Logger });
    // Quotes and accents: JSON escapes and UTF-8 make bytes differ from characters.
    const text = `"é" ${'ünïcödé "quoted" text '.repeat(3000)}`;
    await store.upsert('acme', [record('long', 1, 0, { text }), record('long', 1, 1)]);

    const [trimmed, untouched] = vectorsOf(upserts()[0]!) as unknown as [{ metadata: { text: string; [TEXT_TRUNCATED]?: boolean } }, { metadata: Record<string, unknown> }];
    expect(Buffer.byteLength(JSON.stringify(trimmed.metadata))).toBeLessThanOrEqual(40_960);
    expect(Buffer.byteLength(JSON.stringify(trimmed.metadata))).toBeGreaterThan(40_900);
    expect(trimmed.metadata[TEXT_TRUNCATED]).toBe(true);
    expect(text.startsWith(trimmed.metadata.text)).toBe(true);
    expect(untouched.metadata[TEXT_TRUNCATED]).toBeUndefined();
    expect(store.stats.truncatedTexts).toBe(1);
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/trimmed/), expect.objectContaining({ namespace: 'acme', id: 'long#1#0', characters: text.length }));

    const [match] = await store.query('acme', unit(0), 1);
    expect(match!.text).toBe(trimmed.metadata.text);

    const title = 'x'.repeat(41_000);
    const error = await failure(store.upsert('acme', [record('huge', 1, 0, { title })]));
    expect(error).toBeInstanceOf(PermanentError);
    expect(error!.message).toMatch(/even without its text/);
    expect(upserts()).toHaveLength(1);
  });

  it('deletes only the older versions of a document, found by prefix listing', async () => {
    const store = open();
    const versions = [1, 2, 3].flatMap((version) => Array.from({ length: 150 }, (_, i) => record('doc', version, i)));
    // 'doc#1' is another document whose ids share the prefix 'doc#'.
    await store.upsert('acme', [...versions, record('doc#1', 1, 0), record('other', 1, 0)]);
    await store.upsert('globex', [record('doc', 1, 0)]);

    await expect(store.deleteDocument('acme', 'doc', 3)).resolves.toBe(300);
    const left = await store.listIds('acme');
    expect(left).toHaveLength(152);
    expect(left.filter((id) => id.startsWith('doc#3#'))).toHaveLength(150);
    expect(left).toEqual(expect.arrayContaining(['doc#1#1#0', 'other#1#0']));
    await expect(store.listIds('acme', 'doc#1')).resolves.toEqual(['doc#1#1#0']);
    await expect(store.listIds('globex')).resolves.toEqual(['doc#1#0']);

    const lists = emulator.requests().filter((request) => request.path === '/vectors/list');
    expect(lists[0]!.query).toMatchObject({ prefix: ['doc#'], limit: ['100'], namespace: ['acme'] });
    await expect(store.deleteDocument('acme', 'doc')).resolves.toBe(150);
    await expect(store.listIds('acme', 'doc')).resolves.toEqual([]);
    await expect(store.deleteDocument('initech', 'doc')).resolves.toBe(0);
  });

  it('deletes in batches of at most 1,000 ids', async () => {
    const store = open();
    await store.upsert('acme', Array.from({ length: 2300 }, (_, i) => record('doc', 1, i)));
    await expect(store.deleteDocument('acme', 'doc', 2)).resolves.toBe(2300);
    const deletes = emulator.requests().filter((request) => request.path === '/vectors/delete');
    expect(deletes.map((request) => idsOf(request).length)).toEqual([1000, 1000, 300]);
    await expect(store.listNamespaces()).resolves.toEqual([]);
  });

  it('keeps namespaces apart and lists those holding vectors', async () => {
    const store = open();
    await store.upsert('acme', [record('doc', 1, 0), record('doc', 1, 1)]);
    await store.upsert('globex', [record('doc', 1, 0)]);
    await expect(store.listNamespaces()).resolves.toEqual(['acme', 'globex']);
    await store.deleteDocument('globex', 'doc');
    await expect(store.listNamespaces()).resolves.toEqual(['acme']);
    await expect(store.listIds('acme')).resolves.toEqual(['doc#1#0', 'doc#1#1']);
    await expect(store.upsert('Not A Tenant', [record('doc', 1, 0)])).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });

  it('rejects vectors of another dimension, before sending and against the index', async () => {
    const store = open();
    await expect(store.upsert('acme', [record('doc', 1, 0, { vector: new Float32Array(3) })])).rejects.toMatchObject({ code: 'DIMENSION_MISMATCH' });
    await expect(store.query('acme', new Float32Array(5), 1)).rejects.toMatchObject({ code: 'DIMENSION_MISMATCH' });
    expect(emulator.stats().requests).toBe(0);

    await start({ dimension: 8 });
    const wrong = open();
    const error = await failure(wrong.upsert('acme', [record('doc', 1, 0)]));
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ code: 'DIMENSION_MISMATCH', message: expect.stringMatching(/index has dimension 8; the store expects dimension 4/) });
    await expect(wrong.query('acme', unit(0), 1)).rejects.toMatchObject({ code: 'DIMENSION_MISMATCH' });
  });

  it('turns 429, 5xx, timeouts and refused connections into retriable VECTOR_STORE_FAILED', async () => {
    const store = open({ timeoutMs: 300 });
    await store.upsert('acme', [record('doc', 1, 0)]);

    await emulator.setFaults({ rateLimitRate: 1, retryAfterSeconds: 2 });
    const limited = await failure(store.upsert('acme', [record('doc', 1, 1)]));
    expect(limited).toBeInstanceOf(TransientError);
    expect(limited).toMatchObject({ code: 'VECTOR_STORE_FAILED', details: { status: 429, retryAfterMs: 2000 } });

    await emulator.setFaults({ rateLimitRate: 0, serverErrorRate: 1 });
    expect(await failure(store.query('acme', unit(0), 1))).toMatchObject({ code: 'VECTOR_STORE_FAILED', retriable: true, details: { status: 503 } });

    await emulator.setFaults({ serverErrorRate: 0, timeoutRate: 1 });
    expect(await failure(store.listIds('acme'))).toMatchObject({ code: 'VECTOR_STORE_FAILED', retriable: true, message: expect.stringMatching(/timed out after 300 ms/) });

    await emulator.setFaults({ timeoutRate: 0, down: true });
    expect(await failure(store.deleteDocument('acme', 'doc'))).toMatchObject({ code: 'VECTOR_STORE_FAILED', retriable: true });

    await emulator.setFaults({ down: false });
    await expect(store.listIds('acme')).resolves.toEqual(['doc#1#0']);
  });

  it('turns a rejected request into a PermanentError', async () => {
    await start({ maxMetadataBytes: 200 });
    const error = await failure(open().upsert('acme', [record('doc', 1, 0, { text: 'x'.repeat(500) })]));
    expect(error).toBeInstanceOf(PermanentError);
    expect(error).toMatchObject({ code: 'VECTOR_STORE_FAILED', retriable: false, details: { status: 400 }, message: expect.stringMatching(/exceeds the limit of 200 bytes/) });
  });

  it('never lets the API key into an error', async () => {
    const wrongKey = `${KEY}-wrong`;
    const errors: unknown[] = [await failure(open({ apiKey: wrongKey }).listNamespaces())];
    expect(errors[0]).toMatchObject({ code: 'VECTOR_STORE_FAILED', retriable: true, message: expect.stringMatching(/PINECONE_API_KEY\) was rejected/) });
    const store = open({ timeoutMs: 200 });
    for (const faults of [{ rateLimitRate: 1 }, { rateLimitRate: 0, serverErrorRate: 1 }, { serverErrorRate: 0, timeoutRate: 1 }, { timeoutRate: 0, down: true }]) {
      await emulator.setFaults(faults);
      errors.push(await failure(store.upsert('acme', [record('doc', 1, 0)])));
    }
    errors.push(await failure(open({ indexHost: `http://127.0.0.1:1/${KEY}` }).listNamespaces()));
    for (const error of errors) {
      expect(error).toBeInstanceOf(DocintelError);
      expect(allText(error)).not.toContain(KEY);
    }
  });

  it('refuses calls once closed', async () => {
    const store = open();
    await store.upsert('acme', [record('doc', 1, 0)]);
    await Promise.all([store.close(), store.close()]);
    await expect(store.query('acme', unit(0), 1)).rejects.toMatchObject({ code: 'VECTOR_STORE_FAILED', message: expect.stringMatching(/closed/) });
  });
});

describe('loadVectorStoreConfig for pinecone', () => {
  const base = { VECTOR_STORE: 'pinecone', PINECONE_API_KEY: KEY, PINECONE_INDEX_HOST: 'http://127.0.0.1:9202' };

  it('reads the pinecone variables, with the dimension of the embedding provider', () => {
    expect(loadVectorStoreConfig(base)).toEqual({ kind: 'pinecone', apiKey: KEY, indexHost: 'http://127.0.0.1:9202', dimension: 384, timeoutMs: 30_000 });
    expect(loadVectorStoreConfig({ ...base, EMBEDDING_PROVIDER: 'gemini' }).dimension).toBe(768);
    expect(loadVectorStoreConfig({ EMBEDDING_PROVIDER: 'gemini' }).dimension).toBe(768);
    expect(loadVectorStoreConfig({ ...base, PINECONE_INDEX_HOST: '', PINECONE_INDEX: 'docs', EMBEDDING_DIMENSION: '1536' })).toMatchObject({ indexName: 'docs', dimension: 1536 });
    expect(createVectorStore(loadVectorStoreConfig(base))).toBeInstanceOf(PineconeStore);
  });

  it('names the variable that is missing', () => {
    const variable = (env: Record<string, string>) => {
      try {
        loadVectorStoreConfig(env);
      } catch (error) {
        return (error as ConfigError).variable;
      }
      return undefined;
    };
    expect(variable({ VECTOR_STORE: 'pinecone', PINECONE_INDEX: 'docs' })).toBe('PINECONE_API_KEY');
    expect(variable({ VECTOR_STORE: 'pinecone', PINECONE_API_KEY: KEY })).toBe('PINECONE_INDEX_HOST');
    expect(variable({ VECTOR_STORE: 'qdrant' })).toBe('VECTOR_STORE');
  });
});
