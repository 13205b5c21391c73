import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { HEADERS, dlqTopic, parseVectorId } from '@docintel/contracts';
import {
  CliContext,
  ROOT,
  SERVICE_NAMES,
  deleteCommand,
  ingestCommand,
  run,
  searchCommand,
  spawnService,
  watchProgress,
  type IngestedDocument,
  type ServiceProcess,
} from '@docintel/cli';
import { createTestDatabase, createTestTopics, eventually, isReady, readTopic, scrapeMetric, uniqueSuffix, type TestDatabase, type TestTopics } from '@docintel/testing';
import { startGeminiEmulator, startPineconeEmulator, type Emulator } from '@docintel/emulators';
import { createVectorStore, loadVectorStoreConfig, type VectorStore } from '@docintel/vectorstore';
import { writeCorpus, type CorpusDocument } from './corpus';

/**
 * The whole pipeline as it runs in production: the four services as separate processes, a real
 * Kafka broker, a real PostgreSQL; documents go in through the CLI's code. Once on the embedded
 * providers (local embedder, LanceDB), once on the production adapters (Gemini, Pinecone) pointed
 * at their local emulators.
 */
describe.each(['embedded', 'gemini+pinecone'] as const)('pipeline end to end (%s providers)', (providers) => {
  const suffix = uniqueSuffix().slice(-6);
  const tenants = [`a${suffix}`, `b${suffix}`, `c${suffix}`];
  let topics: TestTopics;
  let database: TestDatabase;
  let dir: string;
  let services: Record<string, ServiceProcess>;
  let ctx: CliContext;
  let store: VectorStore;
  let corpus: CorpusDocument[];
  let emulators: Emulator[] = [];
  let ingested: IngestedDocument[];
  const started = Date.now();

  beforeAll(async () => {
    [topics, database, dir] = await Promise.all([createTestTopics({ partitions: 6 }), createTestDatabase(), mkdtemp(path.join(os.tmpdir(), 'docintel-e2e-'))]);
    let providerEnv: NodeJS.ProcessEnv = { LANCEDB_DIR: path.join(dir, 'lancedb') };
    if (providers === 'gemini+pinecone') {
      const [gemini, pinecone] = await Promise.all([startGeminiEmulator({ apiKey: 'test-gemini-key' }), startPineconeEmulator({ apiKey: 'test-pinecone-key', dimension: 768 })]);
      emulators = [gemini, pinecone];
      providerEnv = {
        EMBEDDING_PROVIDER: 'gemini',
        GEMINI_API_KEY: 'test-gemini-key',
        GEMINI_BASE_URL: gemini.url,
        VECTOR_STORE: 'pinecone',
        PINECONE_API_KEY: 'test-pinecone-key',
        PINECONE_INDEX_HOST: pinecone.url,
      };
    }
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...providerEnv,
      TOPIC_PREFIX: topics.prefix,
      DATABASE_URL: database.url,
      HTTP_PORT: '0',
      LOG_LEVEL: 'info',
      RETRY_DELAYS_MS: '500,1000',
    };
    const list = await Promise.all(SERVICE_NAMES.map((name) => spawnService(name, { env, logFile: path.join(dir, 'logs', `${name}.log`) })));
    services = Object.fromEntries(list.map((service) => [service.name, service]));
    await eventually(async () => (await Promise.all(list.map((s) => isReady(s.httpPort)))).every(Boolean), { timeoutMs: 60_000, description: 'services ready' });
    ctx = new CliContext(env, () => undefined);
    store = createVectorStore(loadVectorStoreConfig(env));
    corpus = await writeCorpus(path.join(dir, 'docs'), tenants, 18);
  });

  afterAll(async () => {
    await Promise.allSettled(Object.values(services ?? {}).map((service) => service.stop()));
    await Promise.allSettled([ctx?.close(), store?.close()]);
    await Promise.allSettled([database?.drop(), topics?.cleanup(), ...emulators.map((emulator) => emulator.close())]);
    if (dir && process.env.KEEP_TEST_DIR === undefined) await rm(dir, { recursive: true, force: true });
  });

  const embedded = () => scrapeMetric(services.embed!.httpPort, 'docintel_embedding_texts_total');
  /** Requests the provider itself counted: the emulator's count, or the embed service's. */
  const providerRequests = async () =>
    emulators[0] ? emulators[0].stats().requests : scrapeMetric(services.embed!.httpPort, 'docintel_embedding_requests_total');

  async function statusRow(document: Pick<IngestedDocument, 'tenantId' | 'documentId' | 'version'>) {
    const result = await database.pool.query<{ state: string; total_chunks: number | null; stored_chunks: number }>(
      'select state, total_chunks, stored_chunks from document_status where tenant_id = $1 and document_id = $2 and version = $3',
      [document.tenantId, document.documentId, document.version],
    );
    return result.rows[0];
  }

  it('ingests 54 documents of 3 tenants: one vector per chunk, in its own namespace, searchable', async () => {
    ingested = [];
    for (const tenant of tenants) ingested.push(...(await ingestCommand(ctx, [path.join(dir, 'docs', tenant)], { tenant, quiet: true })).sent);
    expect(ingested).toHaveLength(54);
    const summary = await watchProgress(ctx, ingested, { timeoutMs: 150_000, tty: false });
    expect(summary).toMatchObject({ completed: 54, failed: 0 });
    process.stdout.write(`pipeline (${providers}): 54 documents, ${summary.chunksStored} chunks completed in ${(summary.elapsedMs / 1000).toFixed(1)} s\n`);

    // Several documents span more than one chunk batch.
    const large = await database.pool.query<{ n: string }>('select count(*) as n from document_status where total_batches > 1');
    expect(Number(large.rows[0]!.n)).toBeGreaterThanOrEqual(6);

    for (const tenant of tenants) {
      const documents = ingested.filter((d) => d.tenantId === tenant);
      const ids = await store.listIds(tenant);
      expect(new Set(ids).size).toBe(ids.length);
      let expected = 0;
      for (const document of documents) {
        const row = await statusRow(document);
        expected += row!.total_chunks!;
        const own = ids.filter((id) => parseVectorId(id).documentId === document.documentId);
        expect(own.map((id) => parseVectorId(id).chunkIndex).sort((a, b) => a - b)).toEqual([...Array(row!.total_chunks!).keys()]);
      }
      // Exactly the tenant's chunks, and nothing of another tenant.
      expect(ids).toHaveLength(expected);
      const mine = new Set(documents.map((d) => d.documentId));
      expect(ids.every((id) => mine.has(parseVectorId(id).documentId))).toBe(true);
    }

    for (const target of [corpus[3]!, corpus[18 + 8]!, corpus[36 + 11]!]) {
      const matches = await searchCommand(ctx, target.phrase, { tenant: target.tenant, top: 3, quiet: true });
      const expectedId = ingested.find((d) => d.source === target.file)!.documentId;
      expect(matches[0]!.documentId).toBe(expectedId);
    }
  });

  it('replaying the same versions changes nothing and calls the provider for nothing', async () => {
    const before = await embedded();
    const requestsBefore = await providerRequests();
    const idsBefore = (await store.listIds(tenants[0]!)).sort();
    const again = await ingestCommand(ctx, [path.join(dir, 'docs', tenants[0]!)], { tenant: tenants[0]!, quiet: true });
    expect(again).toEqual({ sent: [], unchanged: 18 });

    // Replay: the same ingest messages once more, straight onto the topic.
    const replay = ingested.filter((d) => d.tenantId === tenants[0]);
    const storedBefore = await scrapeMetric(services.store!.httpPort, 'docintel_messages_total', { outcome: 'ok' });
    const batches = await database.pool.query<{ n: string }>(
      'select coalesce(sum(total_batches), 0) as n from document_status where tenant_id = $1',
      [tenants[0]],
    );
    await ctx.send(replay.map((d) => ({ topic: ctx.topics.ingest, key: d.tenantId, value: { tenantId: d.tenantId, documentId: d.documentId, version: d.version } })));
    await eventually(
      async () => (await scrapeMetric(services.store!.httpPort, 'docintel_messages_total', { outcome: 'ok' })) >= storedBefore + Number(batches.rows[0]!.n),
      { timeoutMs: 60_000, description: 'replayed batches stored' },
    );
    expect(await embedded()).toBe(before);
    expect(await providerRequests()).toBe(requestsBefore);
    expect((await store.listIds(tenants[0]!)).sort()).toEqual(idsBefore);
    for (const document of replay) expect((await statusRow(document))!.state).toBe('completed');
  });

  it('a changed document leaves only its new version; a delete leaves nothing', async () => {
    const target = corpus.find((d) => d.tenant === tenants[1])!;
    await writeFile(target.file, `# Rewritten\n\nThis version speaks only of a zanzibar ${tenants[1]} observatory telescope.\n`);
    const { sent } = await ingestCommand(ctx, [target.file], { tenant: tenants[1]!, quiet: true });
    expect(sent).toHaveLength(1);
    expect(sent[0]!.version).toBe(2);
    await watchProgress(ctx, sent, { timeoutMs: 60_000, tty: false });
    const ids = await store.listIds(tenants[1]!, sent[0]!.documentId);
    expect(ids).toEqual([`${sent[0]!.documentId}#2#0`]);
    const matches = await searchCommand(ctx, `zanzibar ${tenants[1]} observatory`, { tenant: tenants[1]!, top: 1, quiet: true });
    expect(matches[0]!.id).toBe(`${sent[0]!.documentId}#2#0`);

    const deleted = await deleteCommand(ctx, target.file, { tenant: tenants[1]! });
    await eventually(async () => (await statusRow(deleted))?.state === 'deleted', { timeoutMs: 60_000, description: 'deleted status' });
    expect(await store.listIds(tenants[1]!, deleted.documentId)).toEqual([]);
  });

  it('ingests every format end to end with its chunk counts, headings and pages', async () => {
    const tenant = `f${suffix}`;
    const fixtures = path.join(ROOT, 'services', 'fetch', 'test', 'fixtures');
    const files = ['guide.md', 'guide.html', 'guide.docx', 'guide.pdf', 'guide.txt'].map((name) => path.join(fixtures, name));
    const { sent } = await ingestCommand(ctx, files, { tenant, quiet: true });
    expect(sent).toHaveLength(5);
    expect(await watchProgress(ctx, sent, { timeoutMs: 90_000, tty: false })).toMatchObject({ completed: 5, failed: 0 });
    const chunksOf = async (name: string) => (await statusRow(sent.find((d) => d.source.endsWith(name))!))!.total_chunks;
    // Six sections in every format with headings; plain text has none, so its small guide is one chunk.
    expect(await Promise.all(['guide.md', 'guide.html', 'guide.docx', 'guide.pdf', 'guide.txt'].map(chunksOf))).toEqual([6, 6, 6, 6, 1]);

    const matches = await searchCommand(ctx, 'buoyancy aid forecast wind tide turn back early', { tenant, top: 5, quiet: true });
    const pdf = sent.find((d) => d.source.endsWith('guide.pdf'))!.documentId;
    const fromPdf = matches.find((m) => m.documentId === pdf);
    expect(fromPdf).toMatchObject({ headingPath: ['Kayak Field Guide', 'Safety'], page: 1, pageEnd: 1 });
    const fromDocx = matches.find((m) => m.documentId === sent.find((d) => d.source.endsWith('guide.docx'))!.documentId);
    expect(fromDocx?.headingPath).toEqual(['Kayak Field Guide', 'Safety']);
    expect(fromDocx?.page).toBeUndefined();

    // a minimum score leaves out the matches below it
    const best = matches[0]!.score;
    const above = await searchCommand(ctx, 'buoyancy aid forecast wind tide turn back early', { tenant, top: 5, minScore: best, quiet: true });
    expect(above.length).toBeGreaterThanOrEqual(1);
    expect(above.every((match) => match.score >= best)).toBe(true);
    expect(above.length).toBeLessThan(matches.length);
  });

  it('reads documents from the wild end to end: CID fonts, bytes before a PDF header, legacy charsets, UTF-16 and junk', async () => {
    const tenant = `x${suffix}`;
    const fixtures = path.join(ROOT, 'services', 'fetch', 'test', 'fixtures');
    // Each file and a phrase of its text that search must find in a stored chunk of that file.
    const phrases: Record<string, string> = {
      'cjk.pdf': '出発する前に必ずライフジャケットを着用し',
      'cid-latin.pdf': 'The slipway at the north harbour is closed for repairs',
      'preamble.pdf': 'Always wear a buoyancy aid and tell someone ashore',
      'notice.euc-kr.html': '출발하기 전에 반드시 구명조끼를 착용하고',
      'cafe.windows-1252.html': 'The club’s café rents paddles for €5 a day',
      'tides.utf-16.txt': 'Spring tides run strongest two days after the full moon',
      'junk.md': 'high water at the bar comes forty minutes after the town quay',
    };
    const { sent } = await ingestCommand(ctx, Object.keys(phrases).map((name) => path.join(fixtures, name)), { tenant, quiet: true });
    expect(sent).toHaveLength(Object.keys(phrases).length);
    expect(await watchProgress(ctx, sent, { timeoutMs: 90_000, tty: false })).toMatchObject({ completed: sent.length, failed: 0 });
    const documentOf = (name: string) => sent.find((d) => d.source.endsWith(`/${name}`))!;
    for (const [name, phrase] of Object.entries(phrases)) {
      const matches = await searchCommand(ctx, phrase, { tenant, top: 3, quiet: true });
      const match = matches.find((m) => m.documentId === documentOf(name).documentId);
      expect({ name, text: match?.text.replace(/\s+/g, ' ') }).toEqual({ name, text: expect.stringContaining(phrase) });
    }
    // The PDF after 200 bytes of mail headers keeps its bookmarks and pages.
    const preamble = (await searchCommand(ctx, phrases['preamble.pdf']!, { tenant, top: 3, quiet: true })).find((m) => m.documentId === documentOf('preamble.pdf').documentId);
    expect(preamble).toMatchObject({ headingPath: ['Kayak Field Guide', 'Safety'], page: 1, pageEnd: 1 });
    // junk.md: two chunks of real text, no junk stored (the drop cap "A" merged, page numbers and a divider dropped).
    const junk = documentOf('junk.md');
    expect((await statusRow(junk))!.total_chunks).toBe(2);
    expect(await store.listIds(tenant, junk.documentId)).toHaveLength(2);
    const stored = await searchCommand(ctx, 'Page 1 Page 2 Page 3', { tenant, top: 20, quiet: true });
    const junkTexts = stored.filter((m) => m.documentId === junk.documentId).map((m) => m.text);
    expect(junkTexts.filter((text) => /^(?:Page \d+ ?)+$/.test(text) || /[\uFFFE\uFFFF]/.test(text) || text.includes('\u0001'))).toEqual([]);
  });

  it('ingest --wait names a failed file, exits non-zero, and sends the failed file again on the next ingest', async () => {
    const tenant = `w${suffix}`;
    const folder = path.join(dir, 'with-corrupt');
    await mkdir(folder, { recursive: true });
    await writeFile(path.join(folder, 'good-1.md'), '# Good\n\nA paddle float helps a self-rescue.\n');
    await writeFile(path.join(folder, 'good-2.txt'), 'Spray skirts keep the cockpit dry.\n');
    // a PDF that is not one: fails for good at fetch
    await writeFile(path.join(folder, 'broken.pdf'), '%PDF-1.7\nthis is not a PDF body\n');
    const lines: string[] = [];
    // run() closes the context it is given, as the command line does: one per command
    const ingestWait = () => run(['ingest', folder, '--tenant', tenant, '--wait'], new CliContext(ctx.env, (line) => lines.push(line)));
    await expect(ingestWait()).rejects.toThrow('1 of 3 documents failed');
    expect(lines).toContainEqual(expect.stringMatching(/^ingested 3 documents \(2 completed, 1 failed; \d+ chunks\) in [\d.]+ s: [\d.]+ documents\/s/));
    const failure = lines.find((line) => line.startsWith('  failed: '));
    expect(failure).toContain('broken.pdf');
    expect(failure).toContain('CORRUPT_DOCUMENT');
    expect(lines).toContainEqual(expect.stringContaining(`npx docintel status --tenant ${tenant}`));

    // the next ingest leaves the good files alone and sends the failed one again (a new version)
    lines.length = 0;
    await expect(ingestWait()).rejects.toThrow('1 of 1 documents failed');
    expect(lines[0]).toBe(`${tenant}: 3 files, 1 sent (new or changed, 1 of them again after a failure), 2 unchanged`);
    // nothing failed is left: nothing to send, and the command succeeds
    await rm(path.join(folder, 'broken.pdf'));
    lines.length = 0;
    await expect(ingestWait()).resolves.toBeUndefined();
    expect(lines).toEqual([`${tenant}: 2 files, 0 sent (new or changed), 2 unchanged`]);
  });

  it("rejects a message naming another tenant's document to the DLQ and writes nothing", async () => {
    const victim = ingested.find((d) => d.tenantId === tenants[2])!;
    const attacker = tenants[0]!;
    const countsBefore = await Promise.all(tenants.map((t) => store.listIds(t).then((ids) => ids.length)));
    await ctx.send([{ topic: ctx.topics.ingest, key: attacker, value: { tenantId: attacker, documentId: victim.documentId, version: 1 } }]);
    const dead = await eventually(
      async () => (await readTopic(topics.kafka, dlqTopic(ctx.topics.ingest))).find((m) => m.value.includes(victim.documentId)),
      { timeoutMs: 30_000, description: 'the message in the DLQ' },
    );
    expect(dead.headers[HEADERS.errorCode]).toBe('TENANT_MISMATCH');
    expect(dead.headers[HEADERS.errorMessage]).toBe(`document "${victim.documentId}" does not belong to tenant "${attacker}"`);
    expect(dead.key).toBe(attacker);
    const rows = await database.pool.query('select * from document_status where tenant_id = $1 and document_id = $2', [attacker, victim.documentId]);
    expect(rows.rowCount).toBe(0);
    expect(await Promise.all(tenants.map((t) => store.listIds(t).then((ids) => ids.length)))).toEqual(countsBefore);
    expect((await statusRow(victim))!.state).toBe('completed');
    process.stdout.write(`pipeline test (${providers}) took ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  });
});
