import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PermanentError, TransientError } from '@docintel/core';
import { connect } from '@lancedb/lancedb';
import { Schema } from 'apache-arrow';
import { LanceDbStore, createVectorStore, type LanceDbStoreOptions, type VectorRecord } from '@docintel/vectorstore';
import { vectorSchema } from '../src/records';

const DIMENSION = 8;

/** A unit vector pointing mostly along `axis`, tilted a little towards `axis + 1`. */
function unit(axis: number, tilt = 0, dimension = DIMENSION): Float32Array {
  const vector = new Float32Array(dimension);
  vector[axis % dimension] = 1;
  vector[(axis + 1) % dimension] = tilt;
  const norm = Math.hypot(...vector);
  return vector.map((value) => value / norm);
}

function record(documentId: string, version: number, chunkIndex: number, vector = unit(chunkIndex), text = `text ${chunkIndex}`): VectorRecord {
  return { id: `${documentId}:${version}:${chunkIndex}`, documentId, version, chunkIndex, text, title: `title of ${documentId}`, contentHash: `hash-${chunkIndex}`, vector };
}

describe('LanceDbStore', () => {
  let directory: string;
  let stores: LanceDbStore[];

  const open = (options: Partial<LanceDbStoreOptions> = {}): LanceDbStore => {
    const store = new LanceDbStore({ directory, dimension: DIMENSION, ...options });
    stores.push(store);
    return store;
  };

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'docintel-lancedb-'));
    stores = [];
  });

  afterEach(async () => {
    await Promise.all(stores.map((store) => store.close()));
    await rm(directory, { recursive: true, force: true });
  });

  it('reads a namespace without a table as empty', async () => {
    const store = open();
    await expect(store.query('acme', unit(0), 5)).resolves.toEqual([]);
    await expect(store.listIds('acme')).resolves.toEqual([]);
    await expect(store.deleteDocument('acme', 'doc-1')).resolves.toBe(0);
    await expect(store.listNamespaces()).resolves.toEqual([]);
  });

  it('upserts idempotently and replaces by id', async () => {
    const store = open();
    const records = [record('doc-1', 1, 0), record('doc-1', 1, 1), record('doc-1', 1, 2)];
    await store.upsert('acme', records);
    await store.upsert('acme', records);
    await expect(store.listIds('acme')).resolves.toEqual(['doc-1:1:0', 'doc-1:1:1', 'doc-1:1:2']);

    await store.upsert('acme', [record('doc-1', 1, 1, unit(5), 'rewritten')]);
    await expect(store.listIds('acme')).resolves.toHaveLength(3);
    const [best] = await store.query('acme', unit(5), 1);
    expect(best).toMatchObject({ id: 'doc-1:1:1', documentId: 'doc-1', version: 1, chunkIndex: 1, text: 'rewritten', title: 'title of doc-1' });
    expect(best!.score).toBeCloseTo(1, 5);
  });

  it('keeps chunk metadata (pages, heading path) and returns it with matches', async () => {
    const store = open();
    await store.upsert('acme', [
      { ...record('doc-1', 1, 0), page: 3, pageEnd: 4, headingPath: ['Guide', 'Safety'] },
      { ...record('doc-1', 1, 1), headingPath: [] },
      record('doc-1', 1, 2),
    ]);
    const matches = await store.query('acme', unit(0), 3);
    expect(matches[0]).toMatchObject({ chunkIndex: 0, page: 3, pageEnd: 4, headingPath: ['Guide', 'Safety'] });
    for (const match of matches.slice(1)) {
      expect(match).not.toHaveProperty('page');
      expect(match).not.toHaveProperty('headingPath');
    }
    await expect(store.upsert('acme', [{ ...record('doc-1', 1, 0), page: 0 }])).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });

  it('reads a table made before the metadata columns, and gives it them on its next write', async () => {
    // The schema of the first release: no page, page_end, heading_path.
    const db = await connect(directory);
    const old = new Schema(vectorSchema(DIMENSION).fields.filter((field) => !['page', 'page_end', 'heading_path'].includes(field.name)));
    const table = await db.createEmptyTable('acme', old);
    await table.add([{ id: 'old:1:0', document_id: 'old', version: 1, chunk_index: 0, text: 'old text', title: 'Old', content_hash: 'h', vector: Array.from(unit(0)) }]);
    table.close();
    db.close();

    const store = open();
    await expect(store.query('acme', unit(0), 1)).resolves.toEqual([expect.objectContaining({ id: 'old:1:0', text: 'old text' })]);
    await store.upsert('acme', [{ ...record('new', 1, 0, unit(1)), page: 2, pageEnd: 2, headingPath: ['H'] }]);
    const matches = await store.query('acme', unit(1), 2);
    expect(matches.map((m) => [m.id, m.page, m.headingPath])).toEqual([
      ['new:1:0', 2, ['H']],
      ['old:1:0', undefined, undefined],
    ]);
  });

  it('keeps the last of several records with one id in a batch', async () => {
    const store = open();
    await store.upsert('acme', [record('doc-1', 1, 0, unit(0), 'first'), record('doc-1', 1, 0, unit(0), 'second')]);
    const matches = await store.query('acme', unit(0), 5);
    expect(matches.map((m) => m.text)).toEqual(['second']);
  });

  it('ranks the nearest vector first with cosine scores, best first', async () => {
    const store = open();
    await store.upsert('acme', [record('doc-1', 1, 0, unit(0)), record('doc-1', 1, 1, unit(0, 0.5)), record('doc-1', 1, 2, unit(0, 2)), record('doc-1', 1, 3, unit(4))]);
    const matches = await store.query('acme', unit(0, 0.1), 3);
    expect(matches.map((m) => m.chunkIndex)).toEqual([0, 1, 2]);
    expect(matches[0]!.score).toBeGreaterThan(0.99);
    expect(matches[0]!.score).toBeGreaterThan(matches[1]!.score);
    expect(matches[1]!.score).toBeGreaterThan(matches[2]!.score);
  });

  it('deletes the older versions of a document, then all of it', async () => {
    const store = open();
    const documentId = "reports/2024.q1:final-v_2 (bob's) 100%\\draft";
    await store.upsert('acme', [record(documentId, 1, 0), record(documentId, 1, 1), record(documentId, 2, 0), record('other', 1, 0)]);
    await expect(store.deleteDocument('acme', documentId, 2)).resolves.toBe(2);
    await expect(store.listIds('acme', documentId)).resolves.toEqual([`${documentId}:2:0`]);
    await expect(store.deleteDocument('acme', documentId)).resolves.toBe(1);
    await expect(store.listIds('acme')).resolves.toEqual(['other:1:0']);
  });

  it('keeps namespaces apart', async () => {
    const store = open();
    await store.upsert('tenant-a', [record('doc-1', 1, 0, unit(0), 'secret of a')]);
    await store.upsert('tenant-b', [record('doc-1', 1, 0, unit(3), 'secret of b')]);
    const matches = await store.query('tenant-b', unit(0), 10);
    expect(matches.map((m) => m.text)).toEqual(['secret of b']);
    await store.deleteDocument('tenant-b', 'doc-1');
    await expect(store.listIds('tenant-a')).resolves.toEqual(['doc-1:1:0']);
  });

  it('lists the namespaces that hold vectors', async () => {
    const store = open();
    await store.upsert('zeta', [record('d', 1, 0)]);
    await store.upsert('alpha_1', [record('d', 1, 0)]);
    await store.upsert('emptied', [record('d', 1, 0)]);
    await store.deleteDocument('emptied', 'd');
    await expect(store.listNamespaces()).resolves.toEqual(['alpha_1', 'zeta']);
  });

  it('rejects vectors of the wrong dimension naming both dimensions', async () => {
    const store = open();
    const wrong = record('doc-1', 1, 0, unit(0, 0, 3));
    await expect(store.upsert('acme', [wrong])).rejects.toThrow(PermanentError);
    await expect(store.upsert('acme', [wrong])).rejects.toMatchObject({ code: 'DIMENSION_MISMATCH', message: expect.stringMatching(/dimension 3.*dimension 8/) });
    await expect(store.query('acme', new Float32Array(4), 1)).rejects.toMatchObject({ code: 'DIMENSION_MISMATCH' });
    await expect(store.listIds('acme')).resolves.toEqual([]);
  });

  it('refuses a table written with another dimension', async () => {
    await open().upsert('acme', [record('doc-1', 1, 0)]);
    const other = open({ dimension: 16 });
    await expect(other.query('acme', new Float32Array(16), 1)).rejects.toMatchObject({ code: 'DIMENSION_MISMATCH', message: expect.stringMatching(/dimension 8.*dimension 16/) });
    await expect(other.upsert('acme', [record('doc-1', 1, 0, unit(0, 0, 16))])).rejects.toMatchObject({ code: 'DIMENSION_MISMATCH' });
  });

  it.each(['', 'Acme', '../etc', 'a'.repeat(64), 'tenant.one'])('rejects the namespace %j', async (namespace) => {
    await expect(open().upsert(namespace, [record('d', 1, 0)])).rejects.toMatchObject({ code: 'INVALID_OPTIONS' });
  });

  it('lands every record of many concurrent upserts into one table', async () => {
    const store = open();
    // Each batch repeats shared ids as well as its own: the pattern that corrupts unserialised tables.
    const batches = Array.from({ length: 20 }, (_, i) => [record(`doc-${i}`, 1, 0), record(`doc-${i}`, 1, 1), record('shared', 1, 0), record('shared', 1, 1)]);
    await Promise.all(batches.map((batch) => store.upsert('acme', batch)));
    const ids = await store.listIds('acme');
    expect(ids).toHaveLength(42);
    expect(new Set(ids).size).toBe(42);
  });

  it('takes the lock for every write, one write per namespace at a time, other namespaces in parallel', async () => {
    const held = new Map<string, number>();
    const calls: string[] = [];
    let releaseA!: () => void;
    const gateA = new Promise<void>((resolve) => (releaseA = resolve));
    const store = open({
      lock: async (namespace, work) => {
        calls.push(namespace);
        held.set(namespace, (held.get(namespace) ?? 0) + 1);
        expect(held.get(namespace)).toBe(1);
        try {
          if (namespace === 'tenant-a') await gateA;
          return await work();
        } finally {
          held.set(namespace, held.get(namespace)! - 1);
        }
      },
    });
    const writesA = [store.upsert('tenant-a', [record('d', 1, 0)]), store.upsert('tenant-a', [record('d', 1, 1)]), store.deleteDocument('tenant-a', 'x')];
    await store.upsert('tenant-b', [record('d', 1, 0)]);
    expect(calls).toEqual(['tenant-a', 'tenant-b']);
    releaseA();
    await Promise.all(writesA);
    expect(calls).toEqual(['tenant-a', 'tenant-b', 'tenant-a', 'tenant-a']);
    await expect(store.listIds('tenant-a')).resolves.toEqual(['d:1:0', 'd:1:1']);
  });

  it("passes the lock's own errors through and wraps foreign ones as retriable", async () => {
    const unavailable = new TransientError('DATABASE_UNAVAILABLE', 'advisory lock: connection refused');
    await expect(open({ lock: () => Promise.reject(unavailable) }).upsert('acme', [record('d', 1, 0)])).rejects.toBe(unavailable);
    const failure = open({ lock: () => Promise.reject(new Error('disk full')) }).upsert('acme', [record('d', 1, 0)]);
    await expect(failure).rejects.toMatchObject({ code: 'VECTOR_STORE_FAILED', retriable: true, message: expect.stringMatching(/upsert in namespace acme failed: disk full/) });
  });

  it('keeps writing to a namespace after one of its writes failed', async () => {
    let calls = 0;
    const store = open({ lock: (_namespace, work) => (++calls === 1 ? Promise.reject(new Error('lost the lock')) : work()) });
    const results = await Promise.allSettled([store.upsert('acme', [record('d', 1, 0)]), store.upsert('acme', [record('d', 1, 1)])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled']);
    await expect(store.listIds('acme')).resolves.toEqual(['d:1:1']);
  });

  it('compacts a table every optimizeEvery writes', async () => {
    const store = open({ optimizeEvery: 3, retainVersionsMs: 0 });
    const db = await connect(directory);
    try {
      await store.upsert('acme', [record('d', 1, 0)]);
      await store.upsert('acme', [record('d', 1, 1)]);
      const table = await db.openTable('acme');
      expect((await table.stats()).fragmentStats.numFragments).toBe(2);
      await store.upsert('acme', [record('d', 1, 2)]);
      await table.checkoutLatest();
      expect((await table.stats()).fragmentStats.numFragments).toBe(1);
      await expect(store.listIds('acme')).resolves.toHaveLength(3);
      table.close();
    } finally {
      db.close();
    }
  });

  it('finishes queued writes on close and refuses work afterwards', async () => {
    const store = open();
    const write = store.upsert('acme', [record('d', 1, 0)]);
    await store.close();
    await expect(write).resolves.toBeUndefined();
    await expect(store.listIds('acme')).rejects.toMatchObject({ code: 'VECTOR_STORE_FAILED', retriable: true });
    await store.close();
    const reopened = open();
    await expect(reopened.listIds('acme')).resolves.toEqual(['d:1:0']);
  });

  it('is built by createVectorStore', async () => {
    const store = createVectorStore({ kind: 'lancedb', directory, dimension: DIMENSION });
    expect(store).toBeInstanceOf(LanceDbStore);
    await store.close();
    expect(() => createVectorStore({ kind: 'nope' } as never)).toThrow(/unknown vector store kind nope/);
  });
});
