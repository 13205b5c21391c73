import {
  HEADERS,
  MAX_STORED_INTEGER,
  chunkBatchSchema,
  decodeMessage,
  ingestRequestSchema,
  namedDocument,
  statusEventSchema,
  vectorBatchSchema,
  decodeVector,
  encodeVector,
  vectorId,
  parseVectorId,
  allTopics,
} from '@docintel/contracts';

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('decodeMessage', () => {
  it('accepts a valid ingest request and applies defaults', () => {
    const value = decodeMessage(ingestRequestSchema, json({ tenantId: 'acme', documentId: 'd-1', version: 2 }), 'acme', { [HEADERS.tenantId]: 'acme' });
    expect(value).toEqual({ tenantId: 'acme', documentId: 'd-1', version: 2, op: 'upsert' });
  });

  it('rejects values that are not JSON', () => {
    expect(() => decodeMessage(ingestRequestSchema, Buffer.from('{not json'), 'acme', {})).toThrow(/value is not JSON/);
  });

  it('names the failing fields', () => {
    expect(() => decodeMessage(ingestRequestSchema, json({ tenantId: 'Acme!', documentId: 'd', version: 0 }), undefined, {})).toThrow(
      /tenantId: tenant id must be .*; version: /,
    );
  });

  it('rejects a key or header that names another tenant', () => {
    const value = json({ tenantId: 'acme', documentId: 'd', version: 1 });
    expect(() => decodeMessage(ingestRequestSchema, value, 'globex', {})).toThrow(/message key "globex" is not the value's tenant "acme"/);
    expect(() => decodeMessage(ingestRequestSchema, value, 'acme', { [HEADERS.tenantId]: 'globex' })).toThrow(/tenant-id header/);
  });

  it('rejects an unknown schema version', () => {
    expect(() => decodeMessage(ingestRequestSchema, json({}), undefined, { [HEADERS.schemaVersion]: '9' })).toThrow(/unsupported schema-version "9"/);
  });

  it('rejects chunk overlap not smaller than the size', () => {
    expect(() =>
      decodeMessage(ingestRequestSchema, json({ tenantId: 'a', documentId: 'd', version: 1, chunking: { size: 100, overlap: 100 } }), undefined, {}),
    ).toThrow(/chunking\.overlap: must be smaller than chunking\.size/);
  });

  describe('chunking options', () => {
    const request = (chunking: unknown) => json({ tenantId: 'a', documentId: 'd', version: 1, chunking });
    const decode = (chunking: unknown) => decodeMessage(ingestRequestSchema, request(chunking), undefined, {});

    it('accepts a strategy with sizes in tokens, and every value of the first release', () => {
      expect(decode({ strategy: 'fixed', size: 256, overlap: 32 }).chunking).toEqual({ strategy: 'fixed', size: 256, overlap: 32 });
      expect(decode({ strategy: 'recursive' }).chunking).toEqual({ strategy: 'recursive' });
      // Version 1 as first released: no strategy, sizes from 50 to 20,000.
      expect(decode({ size: 1000, overlap: 150 }).chunking).toEqual({ size: 1000, overlap: 150 });
      expect(decode({ size: 20_000, overlap: 10_000 }).chunking).toEqual({ size: 20_000, overlap: 10_000 });
      expect(decode({ size: 50, overlap: 49 }).chunking).toEqual({ size: 50, overlap: 49 });
    });

    it.each([
      [{ strategy: 'semantic' }, /chunking\.strategy: /],
      [{ size: 15 }, /chunking\.size: /],
      [{ size: 256.5 }, /chunking\.size: /],
      [{ overlap: -1 }, /chunking\.overlap: /],
      [{ strategy: 'fixed', size: 100, overlap: 51 }, /chunking\.overlap: must be at most half of chunking\.size with the fixed strategy/],
    ])('rejects %j naming the field', (chunking, message) => {
      expect(() => decode(chunking)).toThrow(message);
    });
  });

  describe('chunk metadata', () => {
    const hash = 'a'.repeat(64);
    const batch = (chunk: Record<string, unknown>) => json({ tenantId: 'a', documentId: 'd', version: 1, op: 'upsert', title: 't', mimeType: 'application/pdf', batchIndex: 0, chunks: [{ index: 0, text: 'x', hash, ...chunk }] });

    it('is optional, and kept when present, through to the vector batch', () => {
      const plain = decodeMessage(chunkBatchSchema, batch({}), 'a', {});
      expect(plain.op === 'upsert' && plain.chunks[0]).toEqual({ index: 0, text: 'x', hash });
      const rich = { headingPath: ['Guide', 'Safety'], page: 2, pageEnd: 3 };
      const decoded = decodeMessage(chunkBatchSchema, batch(rich), 'a', {});
      expect(decoded.op === 'upsert' && decoded.chunks[0]).toEqual({ index: 0, text: 'x', hash, ...rich });
      const withVector = JSON.parse(batch({ ...rich, vector: 'AAAAAA==' }).toString()) as Record<string, unknown>;
      const vectors = decodeMessage(vectorBatchSchema, json({ ...withVector, model: 'm', dimension: 1 }), 'a', {});
      expect(vectors.op === 'upsert' && vectors.chunks[0]).toMatchObject(rich);
    });

    it.each([
      [{ page: 0 }, /chunks\.0\.page: /],
      [{ page: 3, pageEnd: 2 }, /chunks\.0\.pageEnd: needs page and must not be before it/],
      [{ pageEnd: 2 }, /chunks\.0\.pageEnd: /],
      [{ headingPath: [] }, /chunks\.0\.headingPath: /],
      [{ headingPath: ['x'.repeat(501)] }, /chunks\.0\.headingPath\.0: /],
    ])('rejects %j', (chunk, message) => {
      expect(() => decodeMessage(chunkBatchSchema, batch(chunk), 'a', {})).toThrow(message);
    });
  });

  it('tells chunk batches and deletes apart', () => {
    expect(decodeMessage(chunkBatchSchema, json({ tenantId: 'a', documentId: 'd', version: 1, op: 'delete' }), 'a', {}).op).toBe('delete');
    expect(() => decodeMessage(chunkBatchSchema, json({ tenantId: 'a', documentId: 'd', version: 1, op: 'upsert' }), 'a', {})).toThrow(/chunks/);
  });
});

describe('integers the database stores', () => {
  const chunk = { index: 0, text: 'hello', hash: 'a'.repeat(64) };
  const upsert = { tenantId: 'a', documentId: 'd', version: 1, op: 'upsert', title: 't', mimeType: 'text/plain', batchIndex: 0, chunks: [chunk] };
  const status = { tenantId: 'a', documentId: 'd', version: 1, state: 'storing', stage: 'store', at: 1 };
  const over = MAX_STORED_INTEGER + 1;

  it.each([
    ['the version of an ingest request', ingestRequestSchema, { tenantId: 'a', documentId: 'd', version: over }, /^value does not match its schema: version: must be at most 2147483647/],
    ['the batch index', chunkBatchSchema, { ...upsert, batchIndex: over }, /batchIndex: must be at most 2147483647/],
    ['the total batches', chunkBatchSchema, { ...upsert, totalBatches: over }, /totalBatches: must be at most/],
    ['the total chunks', chunkBatchSchema, { ...upsert, totalChunks: over }, /totalChunks: must be at most/],
    ['a chunk index', chunkBatchSchema, { ...upsert, chunks: [{ ...chunk, index: over }] }, /chunks\.0\.index: must be at most/],
    ['a page', chunkBatchSchema, { ...upsert, chunks: [{ ...chunk, page: over }] }, /chunks\.0\.page: must be at most/],
    ['a dimension', vectorBatchSchema, { ...upsert, model: 'm', dimension: over, chunks: [{ ...chunk, vector: 'AA==' }] }, /dimension: must be at most/],
    ['the version of a delete', chunkBatchSchema, { tenantId: 'a', documentId: 'd', version: over, op: 'delete' }, /version: must be at most/],
    ['a status batch', statusEventSchema, { ...status, batch: { index: 0, chunks: over } }, /batch\.chunks: must be at most/],
    ['a status total', statusEventSchema, { ...status, totalChunks: over }, /totalChunks: must be at most/],
    ['a waiting time', statusEventSchema, { ...status, waiting: { reason: 'r', until: 9e15 } }, /waiting\.until: /],
  ])('rejects %s beyond a PostgreSQL integer, naming the field', (_what, schema, value, message) => {
    expect(() => decodeMessage(schema as typeof ingestRequestSchema, json(value), 'a', {})).toThrow(message);
  });

  it('accepts the largest value the columns hold', () => {
    expect(decodeMessage(ingestRequestSchema, json({ tenantId: 'a', documentId: 'd', version: MAX_STORED_INTEGER }), 'a', {}).version).toBe(MAX_STORED_INTEGER);
  });

  it('lets only the event of a rejected message leave out its version', () => {
    const { version: _version, ...noVersion } = status;
    expect(() => decodeMessage(statusEventSchema, json(noVersion), 'a', {})).toThrow(/version: required/);
    expect(decodeMessage(statusEventSchema, json({ ...noVersion, state: 'failed', rejected: true }), 'a', {}).version).toBeUndefined();
  });
});

describe('namedDocument', () => {
  const raw = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));

  it('reads the ids and a valid version of a value that fails its schema', () => {
    expect(namedDocument(raw({ tenantId: 'acme', documentId: 'd-1', version: 3, chunking: { size: 1 } }), 'acme', { [HEADERS.tenantId]: 'acme' })).toEqual({
      tenantId: 'acme',
      documentId: 'd-1',
      version: 3,
    });
  });

  it.each([2 ** 31, 0, 1.5, '3', null])('leaves out a version that is not one (%p)', (version) => {
    expect(namedDocument(raw({ tenantId: 'acme', documentId: 'd-1', version }), 'acme', {})).toEqual({ tenantId: 'acme', documentId: 'd-1' });
  });

  it.each([
    ['not JSON', raw('{oops'), 'acme', {}],
    ['no value', null, 'acme', {}],
    ['an array', raw([1]), 'acme', {}],
    ['a bad tenant id', raw({ tenantId: 'Acme!', documentId: 'd-1' }), undefined, {}],
    ['a bad document id', raw({ tenantId: 'acme', documentId: 'd#1' }), 'acme', {}],
    ['a key of another tenant', raw({ tenantId: 'acme', documentId: 'd-1' }), 'globex', {}],
    ['a header of another tenant', raw({ tenantId: 'acme', documentId: 'd-1' }), 'acme', { [HEADERS.tenantId]: 'globex' }],
  ] as const)('names nothing for %s', (_what, value, key, headers) => {
    expect(namedDocument(value, key, headers)).toBeUndefined();
  });
});

describe('ids and vectors', () => {
  it('round-trips vector ids', () => {
    expect(parseVectorId(vectorId('doc:1', 3, 17))).toEqual({ documentId: 'doc:1', version: 3, chunkIndex: 17 });
  });

  it('encodes vectors as exact float32', () => {
    const vector = Float32Array.from([0.1, -2.5, 3e-8]);
    expect(Array.from(decodeVector(encodeVector(vector)))).toEqual(Array.from(vector));
  });

  it('lists every topic with retry tiers and DLQs', () => {
    const topics = allTopics('t1.', 3);
    expect(topics).toHaveLength(4 * 5);
    expect(topics).toContain('t1.document.chunks.retry.3');
    expect(topics).toContain('t1.document.status.dlq');
  });
});
