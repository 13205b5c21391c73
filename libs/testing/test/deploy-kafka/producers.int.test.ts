import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { crc32 } from 'node:zlib';
import { HEADERS, decodeMessage, ingestRequestSchema, sha256Hex, topicNames } from '@docintel/contracts';
import { getDocument, upsertDocument } from '@docintel/db';
import { createTestDatabase, createTestTopics, partitionOf, readTopic, type ReadMessage, type TestDatabase, type TestTopics } from '@docintel/testing';
import { ROOT } from './broker';
import { PRODUCERS_TITLE, checkClients, readRecipes, readSection, runRecipe } from './recipes';

const execFileAsync = promisify(execFile);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The documents the recipes write, as the README's table and the recipes themselves describe them. */
const EXPENSES = { id: 'acme-expenses', title: 'Expense policy', mimeType: 'text/markdown', file: 'examples/acme/expenses.md' };
const SECURITY = { id: 'acme-security-policy', title: 'Security policy', mimeType: 'text/plain', file: 'examples/acme/security-policy.txt' };
type Sample = typeof EXPENSES;

/**
 * The README's producer examples for a tenant's application (psql and kcat, Python with Debian's
 * confluent-kafka and psycopg2), run as written against the local broker and a database of their
 * own (only TOPIC_PREFIX and DATABASE_URL come from this test): the rows they write, and the
 * messages they send, read back as the services read them.
 */
describe(`README: ${PRODUCERS_TITLE.slice(3)}`, () => {
  const section = readSection(PRODUCERS_TITLE);
  const recipes = readRecipes(section);
  const ran = new Set<string>();
  // The recipes' tenant. With 5 partitions, murmur2 puts it on 3 and librdkafka's default (CRC32) on
  // 4, so a recipe without the right partitioner cannot pass by chance (nor one that writes to 0).
  const tenant = 'acme';
  const partitions = 5;
  let topics: TestTopics;
  let db: TestDatabase;
  let env: NodeJS.ProcessEnv;
  let ingest: string;
  const seen = new Set<string>();
  const traceIds = new Set<string>();

  const run = async (name: string): Promise<string> => {
    const recipe = recipes.get(name);
    if (!recipe) throw new Error(`the README section has no recipe "${name}"`);
    checkClients(recipe, env);
    ran.add(name);
    return (await runRecipe(recipe, env)).stdout;
  };

  /** The messages the ingest topic got since the last call. */
  const newMessages = async (): Promise<ReadMessage[]> => {
    const fresh = (await readTopic(topics.kafka, ingest)).filter((m) => !seen.has(`${m.partition}:${m.offset}`));
    for (const m of fresh) seen.add(`${m.partition}:${m.offset}`);
    return fresh;
  };

  /** The row as the section documents it, and (unless deleted) one that the CLI's own upsert finds unchanged. */
  const expectRow = async (sample: Sample, version: number, deleted = false) => {
    const content = readFileSync(path.join(ROOT, sample.file));
    const row = await getDocument(db.pool, sample.id);
    expect(row).toMatchObject({ id: sample.id, tenantId: tenant, source: null, title: sample.title, mimeType: sample.mimeType, version });
    expect(row!.content.equals(content)).toBe(true);
    expect(row!.contentSha256).toBe(sha256Hex(content));
    expect(row!.contentSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(row!.deletedAt !== null).toBe(deleted);
    if (!deleted) {
      const cli = await upsertDocument(db.pool, { id: sample.id, tenantId: tenant, source: null, title: sample.title, mimeType: sample.mimeType, content });
      expect(cli).toEqual({ id: sample.id, version, changed: false });
    }
  };

  /**
   * Runs a recipe that should store a new version and send it: its output, the row, and its one
   * message as fetch would read it (on the tenant's partition, with the key, the three headers and
   * a value of the ingest schema).
   */
  const expectSent = async (name: string, sample: Sample, version: number, op: 'upsert' | 'delete' = 'upsert') => {
    const said = op === 'upsert' ? `sent version ${version} of ${sample.id}` : `sent the delete of ${sample.id}, version ${version}`;
    expect(await run(name)).toBe(`${said}\n`);
    await expectRow(sample, version, op === 'delete');
    const messages = await newMessages();
    expect(messages).toHaveLength(1);
    const { partition, key, headers, value } = messages[0]!;
    expect(partition).toBe(partitionOf(tenant, partitions));
    expect(key).toBe(tenant);
    expect(headers).toEqual({ [HEADERS.tenantId]: tenant, [HEADERS.traceId]: expect.stringMatching(UUID), [HEADERS.schemaVersion]: '1' });
    expect(traceIds.has(headers[HEADERS.traceId]!)).toBe(false);
    traceIds.add(headers[HEADERS.traceId]!);
    expect(decodeMessage(ingestRequestSchema, Buffer.from(value), key, headers)).toEqual({ tenantId: tenant, documentId: sample.id, version, op });
  };

  /** Runs an upsert recipe on a row that already has its file: it says so and sends nothing. */
  const expectUnchanged = async (name: string, sample: Sample, version: number) => {
    expect(await run(name)).toBe(`${sample.id} is unchanged at version ${version}: nothing to send\n`);
    await expectRow(sample, version);
    expect(await newMessages()).toEqual([]);
  };

  beforeAll(async () => {
    topics = await createTestTopics({ partitions });
    db = await createTestDatabase();
    ingest = topicNames(topics.prefix).ingest;
    env = { ...process.env, TOPIC_PREFIX: topics.prefix, DATABASE_URL: db.url };
  });

  afterAll(async () => {
    await db?.drop();
    await topics?.cleanup();
  });

  it('explains every column of the documents table and every mime type fetch reads', async () => {
    const table = section.split('\n').filter((line) => line.startsWith('| `'));
    const columns = await db.pool.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'documents'`,
    );
    expect(columns.rows.length).toBeGreaterThanOrEqual(11);
    for (const { column_name: column } of columns.rows) {
      expect(table.some((line) => line.startsWith(`| \`${column}\``) || line.includes(`, \`${column}\` |`))).toBe(true);
    }
    const parse = readFileSync(path.join(ROOT, 'services/fetch/src/parse.ts'), 'utf8');
    const formats = /export const MIME_FORMATS[^{]*\{([^}]*)\}/.exec(parse)?.[1] ?? '';
    const types = [...formats.matchAll(/'([^']+)':/g)].map((match) => match[1]!);
    expect(types.length).toBeGreaterThanOrEqual(7);
    for (const type of types) expect(section).toContain(`\`${type}\``);
    for (const header of [HEADERS.tenantId, HEADERS.traceId, HEADERS.schemaVersion]) expect(section).toContain(`\`${header}\``);
  });

  it('psql and kcat: stores the file as version 1 and sends it to the partition the services pick; an unchanged file sends nothing', async () => {
    await expectSent('kcat-produce', EXPENSES, 1);
    await expectUnchanged('kcat-produce', EXPENSES, 1);
  });

  it('a delete is a version of its own, sent with op delete; the upsert brings the document back as the next version', async () => {
    await expectSent('kcat-delete', EXPENSES, 2, 'delete');
    await expectSent('kcat-produce', EXPENSES, 3);
  });

  it('Python: stores the file as version 1 and sends it; nothing when unchanged; the next version when the content changed', async () => {
    await expectSent('python-produce', SECURITY, 1);
    await expectUnchanged('python-produce', SECURITY, 1);
    // The row holds other content (an earlier draft): the file is a change, so a new version.
    const draft = Buffer.from('An earlier draft of the policy.\n');
    await db.pool.query('UPDATE documents SET content = $2, content_sha256 = $3 WHERE id = $1', [SECURITY.id, draft, sha256Hex(draft)]);
    await expectSent('python-produce', SECURITY, 2);
  });

  it("neither example touches another tenant's row or sends anything for it", async () => {
    await db.pool.query(`UPDATE documents SET tenant_id = 'globex' WHERE id = ANY($1)`, [[EXPENSES.id, SECURITY.id]]);
    await expect(run('kcat-produce')).rejects.toThrow(`${EXPENSES.id} was not stored: it is another tenant's document`);
    await expect(run('python-produce')).rejects.toThrow(`${SECURITY.id} is another tenant's document`);
    await expect(run('kcat-delete')).rejects.toThrow(`tenant ${tenant} has no document ${EXPENSES.id}`);
    const rows = await db.pool.query<{ id: string; tenant_id: string; version: number }>('SELECT id, tenant_id, version FROM documents ORDER BY id');
    expect(rows.rows).toEqual([
      { id: EXPENSES.id, tenant_id: 'globex', version: 3 },
      { id: SECURITY.id, tenant_id: 'globex', version: 2 },
    ]);
    expect(await newMessages()).toEqual([]);
  });

  it("without partitioner=murmur2_random, librdkafka's default puts the tenant on another partition (why the examples set it)", async () => {
    expect(partitionOf(tenant, partitions)).not.toBe(crc32(tenant) % partitions);
    // kcat as the recipes call it, without the partitioner, on a topic of this test's that no recipe uses
    const scratch = topicNames(topics.prefix).status;
    const kcat = execFileAsync('kcat', ['-b', process.env.KAFKA_BROKERS ?? '127.0.0.1:9092', '-P', '-t', scratch, '-k', tenant]);
    kcat.child.stdin!.end('{}\n');
    await kcat;
    const [message] = await readTopic(topics.kafka, scratch);
    expect(message?.partition).toBe(crc32(tenant) % partitions);
  });

  it('ran every recipe of the section', () => {
    expect([...ran].sort()).toEqual([...recipes.keys()].sort());
    expect(recipes.size).toBe(3);
  });
});
