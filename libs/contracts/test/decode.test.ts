import { HEADERS, chunkBatchSchema, decodeMessage, ingestRequestSchema, decodeVector, encodeVector, vectorId, parseVectorId, allTopics } from '@docintel/contracts';

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
    ).toThrow(/overlap must be smaller/);
  });

  it('tells chunk batches and deletes apart', () => {
    expect(decodeMessage(chunkBatchSchema, json({ tenantId: 'a', documentId: 'd', version: 1, op: 'delete' }), 'a', {}).op).toBe('delete');
    expect(() => decodeMessage(chunkBatchSchema, json({ tenantId: 'a', documentId: 'd', version: 1, op: 'upsert' }), 'a', {})).toThrow(/chunks/);
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
