import { DOCUMENT_ID_PATTERN, sha256Hex } from '@docintel/contracts';
import { PermanentError, TransientError } from '@docintel/core';
import {
  CONTENT_SLICE_BYTES,
  createPool,
  deterministicDocumentId,
  findDocumentBySource,
  getDocument,
  listDocuments,
  markDeleted,
  readDocument,
  upsertDocument,
  type Queryable,
  type UpsertDocumentInput,
} from '@docintel/db';
import { createTestDatabase, type TestDatabase } from '@docintel/testing';

const doc = (overrides: Partial<UpsertDocumentInput> = {}): UpsertDocumentInput => ({
  tenantId: 'acme',
  source: 'docs/handbook.md',
  title: 'Handbook',
  mimeType: 'text/markdown',
  content: Buffer.from('# Handbook\n'),
  ...overrides,
});

describe('documents', () => {
  let db: TestDatabase;
  beforeEach(async () => {
    db = await createTestDatabase();
  });
  afterEach(() => db.drop());

  it('inserts a new document as version 1 under a deterministic id', async () => {
    const result = await upsertDocument(db.pool, doc());
    expect(result).toEqual({ id: deterministicDocumentId('acme', 'docs/handbook.md'), version: 1, changed: true });
    expect(result.id).toMatch(DOCUMENT_ID_PATTERN);
    expect(result.id).toBe(`acme-${sha256Hex('acme\0docs/handbook.md').slice(0, 24)}`);

    const stored = await getDocument(db.pool, result.id);
    expect(stored).toMatchObject({
      id: result.id, tenantId: 'acme', source: 'docs/handbook.md', title: 'Handbook', mimeType: 'text/markdown',
      version: 1, contentSha256: sha256Hex(Buffer.from('# Handbook\n')), deletedAt: null,
    });
    expect(stored!.content.equals(Buffer.from('# Handbook\n'))).toBe(true);
  });

  it('leaves an unchanged document alone and versions a changed one', async () => {
    const first = await upsertDocument(db.pool, doc());
    await expect(upsertDocument(db.pool, doc())).resolves.toEqual({ id: first.id, version: 1, changed: false });

    const content = Buffer.from('# Handbook\n\nNew chapter.\n');
    await expect(upsertDocument(db.pool, doc({ content }))).resolves.toEqual({ id: first.id, version: 2, changed: true });
    const stored = await getDocument(db.pool, first.id);
    expect(stored!.content.equals(content)).toBe(true);
    expect(stored!.contentSha256).toBe(sha256Hex(content));

    // a new title or mime type changes what the pipeline derives, so it is a version too
    await expect(upsertDocument(db.pool, doc({ content, title: 'Staff handbook' }))).resolves.toMatchObject({ version: 3, changed: true });
    await expect(upsertDocument(db.pool, doc({ content, title: 'Staff handbook', mimeType: 'text/plain' }))).resolves.toMatchObject({ version: 4, changed: true });
  });

  it('gives an unchanged document a new version when forced, with or without a source', async () => {
    const first = await upsertDocument(db.pool, doc());
    await expect(upsertDocument(db.pool, doc({ force: true }))).resolves.toEqual({ id: first.id, version: 2, changed: true });
    await expect(upsertDocument(db.pool, doc())).resolves.toEqual({ id: first.id, version: 2, changed: false });

    await upsertDocument(db.pool, doc({ id: 'HB-9', source: null }));
    await expect(upsertDocument(db.pool, doc({ id: 'HB-9', source: null, force: true }))).resolves.toEqual({ id: 'HB-9', version: 2, changed: true });
    // forcing never touches another tenant's document of that id
    await expect(upsertDocument(db.pool, doc({ id: 'HB-9', source: null, tenantId: 'globex', force: true }))).rejects.toMatchObject({ code: 'TENANT_MISMATCH' });
    expect(await getDocument(db.pool, 'HB-9')).toMatchObject({ tenantId: 'acme', version: 2 });
  });

  it('makes a delete a version of its own, and revives a deleted document with the next one', async () => {
    const { id } = await upsertDocument(db.pool, doc());
    await expect(markDeleted(db.pool, 'acme', id)).resolves.toEqual({ version: 2 });
    expect((await getDocument(db.pool, id))!.deletedAt).toBeInstanceOf(Date);
    // a replayed delete names the same version
    await expect(markDeleted(db.pool, 'acme', id)).resolves.toEqual({ version: 2 });

    await expect(upsertDocument(db.pool, doc())).resolves.toEqual({ id, version: 3, changed: true });
    expect((await getDocument(db.pool, id))!.deletedAt).toBeNull();
  });

  it("does not delete another tenant's document", async () => {
    const { id } = await upsertDocument(db.pool, doc());
    await expect(markDeleted(db.pool, 'globex', id)).resolves.toBeUndefined();
    await expect(markDeleted(db.pool, 'acme', 'no-such-doc')).resolves.toBeUndefined();
    expect(await getDocument(db.pool, id)).toMatchObject({ version: 1, deletedAt: null });
  });

  it('keeps sources apart per tenant', async () => {
    const a = await upsertDocument(db.pool, doc());
    const b = await upsertDocument(db.pool, doc({ tenantId: 'globex' }));
    expect(a.id).not.toBe(b.id);
    expect(b).toMatchObject({ version: 1, changed: true });
    await expect(findDocumentBySource(db.pool, 'globex', 'docs/handbook.md')).resolves.toMatchObject({ id: b.id, tenantId: 'globex' });
    await expect(findDocumentBySource(db.pool, 'globex', 'other.md')).resolves.toBeUndefined();
  });

  it('stores a document under a given id, with or without a source', async () => {
    await expect(upsertDocument(db.pool, doc({ id: 'HB-1', source: null }))).resolves.toEqual({ id: 'HB-1', version: 1, changed: true });
    await expect(upsertDocument(db.pool, doc({ id: 'HB-1', source: null }))).resolves.toEqual({ id: 'HB-1', version: 1, changed: false });
    await expect(upsertDocument(db.pool, doc({ id: 'HB-1', source: null, content: Buffer.from('v2') }))).resolves.toMatchObject({ version: 2, changed: true });
    // a document found by its source keeps the id it was first stored under
    await expect(upsertDocument(db.pool, doc({ id: 'HB-2' }))).resolves.toMatchObject({ id: 'HB-2', version: 1 });
    await expect(upsertDocument(db.pool, doc({ id: 'HB-3' }))).resolves.toEqual({ id: 'HB-2', version: 1, changed: false });
  });

  it("rejects an id that is another tenant's document and writes nothing", async () => {
    await upsertDocument(db.pool, doc({ id: 'shared-id' }));
    for (const source of [null, 'globex.md']) {
      const error: unknown = await upsertDocument(db.pool, doc({ id: 'shared-id', tenantId: 'globex', source, content: Buffer.from('x') })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentError);
      expect(error).toMatchObject({ code: 'TENANT_MISMATCH' });
    }
    expect(await getDocument(db.pool, 'shared-id')).toMatchObject({ tenantId: 'acme', version: 1 });
    expect(await listDocuments(db.pool, 'globex')).toEqual([]);
  });

  it('rejects bad input before touching the database', async () => {
    await expect(upsertDocument(db.pool, doc({ source: null }))).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    await expect(upsertDocument(db.pool, doc({ id: 'has space' }))).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    await expect(upsertDocument(db.pool, doc({ tenantId: 'Bad Tenant' }))).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
    await expect(upsertDocument(db.pool, doc({ id: 'HB-1' }))).resolves.toMatchObject({ id: 'HB-1' });
    await expect(upsertDocument(db.pool, doc({ id: 'HB-1', source: 'other.md' }))).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });

  it('gives concurrent stores of the same new document one row and one change', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => upsertDocument(db.pool, doc())));
    expect(new Set(results.map((r) => `${r.id}@${r.version}`)).size).toBe(1);
    expect(results.filter((r) => r.changed)).toHaveLength(1);
  });

  it('gives concurrent stores of different contents one version each', async () => {
    await upsertDocument(db.pool, doc());
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => upsertDocument(db.pool, doc({ content: Buffer.from(`edit ${i}`) }))));
    expect(results.every((r) => r.changed)).toBe(true);
    expect(results.map((r) => r.version).sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
    const last = results.find((r) => r.version === 9)!;
    const stored = await getDocument(db.pool, last.id);
    expect(stored!.version).toBe(9);
  });

  it('lists documents without content, per tenant or all', async () => {
    await upsertDocument(db.pool, doc({ source: 'b.md', content: Buffer.from('bbb') }));
    await upsertDocument(db.pool, doc({ source: 'a.md', content: Buffer.from('a') }));
    const other = await upsertDocument(db.pool, doc({ tenantId: 'globex' }));
    await markDeleted(db.pool, 'globex', other.id);

    const acme = await listDocuments(db.pool, 'acme');
    // ordered by id, which for these is a hash of the source
    expect(acme.map((d) => d.id)).toEqual([...acme.map((d) => d.id)].sort());
    expect(acme.map((d) => ({ source: d.source, size: d.size })).sort((x, y) => x.size - y.size)).toEqual([
      { source: 'a.md', size: 1 },
      { source: 'b.md', size: 3 },
    ]);
    expect(acme[0]).not.toHaveProperty('content');
    const all = await listDocuments(db.pool);
    expect(all.map((d) => d.tenantId)).toEqual(['acme', 'acme', 'globex']);
    expect(all[2]!.deletedAt).toBeInstanceOf(Date);
  });

  it('reports an unreachable database as DATABASE_UNAVAILABLE', async () => {
    const pool = createPool('postgres://postgres@127.0.0.1:1/docintel');
    try {
      await expect(getDocument(pool, 'x')).rejects.toBeInstanceOf(TransientError);
      await expect(upsertDocument(pool, doc())).rejects.toMatchObject({ code: 'DATABASE_UNAVAILABLE', retriable: true });
    } finally {
      await pool.end();
    }
  });

  it('readDocument reads the size first, and the content only when it is within the limit', async () => {
    const { id } = await upsertDocument(db.pool, doc());
    expect(await readDocument(db.pool, id, { maxContentBytes: 11 })).toMatchObject({ id, tenantId: 'acme', version: 1, size: 11, content: Buffer.from('# Handbook\n') });
    const over = await readDocument(db.pool, id, { maxContentBytes: 10 });
    expect(over).toMatchObject({ id, size: 11, content: undefined });
    expect(await readDocument(db.pool, 'nope', { maxContentBytes: 10 })).toBeUndefined();
  });

  it('readDocument reads content larger than a slice whole, and an empty one', async () => {
    const content = Buffer.alloc(2 * CONTENT_SLICE_BYTES + 12_345);
    for (let i = 0; i + 4 <= content.length; i += 4) content.writeUInt32LE(i, i);
    const { id } = await upsertDocument(db.pool, doc({ content }));
    const read = await readDocument(db.pool, id, { maxContentBytes: content.length });
    expect(read!.content!.equals(content)).toBe(true);
    const { id: empty } = await upsertDocument(db.pool, doc({ source: 'empty.md', content: Buffer.alloc(0) }));
    expect((await readDocument(db.pool, empty, { maxContentBytes: 1 }))!.content).toEqual(Buffer.alloc(0));
  });

  it('readDocument reads the document again when it changes between two slices', async () => {
    const first = Buffer.alloc(CONTENT_SLICE_BYTES + 1, 1);
    const second = Buffer.alloc(CONTENT_SLICE_BYTES + 2, 2);
    const { id } = await upsertDocument(db.pool, doc({ content: first }));
    let slices = 0;
    // A writer that stores a new version right after the first slice was read.
    const racing: Queryable = {
      query: async (text: string, values?: unknown[]) => {
        const result = await db.pool.query(text, values);
        if (text.includes('substring') && ++slices === 1) await upsertDocument(db.pool, doc({ content: second }));
        return result;
      },
    };
    const read = await readDocument(racing, id, { maxContentBytes: 2 * CONTENT_SLICE_BYTES });
    expect(read).toMatchObject({ version: 2, size: second.length });
    expect(read!.content!.equals(second)).toBe(true);
  });
});
