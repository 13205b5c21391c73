import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ingestCommand, type CliContext, type IngestedDocument } from '@docintel/cli';
import { writePdf } from '../../../services/fetch/test/fixtures/pdf-writer';
import { random, words } from './corpus';

/** A real Word document (made with LibreOffice), copied under a new name for every DOCX of the load. */
const GUIDE_DOCX = path.join(__dirname, '..', '..', '..', 'services', 'fetch', 'test', 'fixtures', 'guide.docx');

const FORMATS = ['md', 'html', 'pdf', 'docx'] as const;
type Format = (typeof FORMATS)[number];

export interface LoadDocument extends IngestedDocument {
  format: Format;
  /** When the load started to send it (before its row was written), epoch ms. */
  sentAt: number;
  /** When its status reached `completed` or `failed` (the row's updated_at), epoch ms. */
  endedAt?: number;
  state?: string;
}

/**
 * A steady stream of small good documents from a few tenants, each tenant at `perSecond`
 * documents a second, in turn Markdown, HTML, PDF and DOCX (so the parse processes serve them
 * too), sent with `ingestCommand` as a tenant's CLI would. {@link SteadyLoad.refresh} reads which
 * have ended, and when, from `document_status`.
 */
export class SteadyLoad {
  readonly documents: LoadDocument[] = [];
  readonly errors: unknown[] = [];
  #stopping = false;
  #loops: Promise<void>[] = [];

  constructor(
    private readonly ctx: CliContext,
    private readonly dir: string,
    readonly tenants: string[],
    readonly perSecond: number,
  ) {}

  start(): void {
    this.#loops = this.tenants.map((tenant, t) => this.#run(tenant, t));
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(this.#loops);
  }

  async #run(tenant: string, t: number): Promise<void> {
    const interval = 1000 / this.perSecond;
    // The tenants take turns: their documents do not all arrive in the same instant.
    const started = Date.now() + (t * interval) / this.tenants.length;
    await mkdir(path.join(this.dir, tenant), { recursive: true });
    for (let n = 0; !this.#stopping; n++) {
      const due = started + n * interval;
      if (due > Date.now()) await new Promise((resolve) => setTimeout(resolve, due - Date.now()));
      if (this.#stopping) return;
      const format = FORMATS[n % FORMATS.length]!;
      try {
        const file = await this.#write(tenant, n, format);
        const sentAt = Date.now();
        const [sent] = (await ingestCommand(this.ctx, [file], { tenant, quiet: true })).sent;
        if (sent) this.documents.push({ ...sent, format, sentAt });
      } catch (error) {
        this.errors.push(error);
      }
    }
  }

  async #write(tenant: string, n: number, format: Format): Promise<string> {
    const file = path.join(this.dir, tenant, `doc-${n}.${format}`);
    const next = random(n * 7919 + tenant.length);
    const title = `${tenant} document ${n}`;
    const paragraphs = Array.from({ length: 3 }, () => `${words(next, 40).join(' ')}.`);
    switch (format) {
      case 'md':
        await writeFile(file, [`# ${title}`, ...paragraphs].join('\n\n'));
        break;
      case 'html':
        await writeFile(file, `<!doctype html><html><head><title>${title}</title></head><body><h1>${title}</h1>${paragraphs.map((p) => `<p>${p}</p>`).join('')}</body></html>`);
        break;
      case 'pdf':
        await writeFile(file, writePdf([[{ text: title, size: 18 }, ...paragraphs.flatMap((text) => [{ text }, { text: '' }])]]));
        break;
      case 'docx':
        await copyFile(GUIDE_DOCX, file);
        break;
    }
    return file;
  }

  /** Reads the end (state and time) of every document that had not ended at the last call. */
  async refresh(): Promise<void> {
    const pending = this.documents.filter((d) => d.endedAt === undefined);
    if (pending.length === 0) return;
    const result = await this.ctx.pool.query<{ tenant_id: string; document_id: string; version: number; state: string; at: string }>(
      `select tenant_id, document_id, version, state, extract(epoch from updated_at) * 1000 as at from document_status
        where (tenant_id, document_id, version) in (select * from unnest($1::text[], $2::text[], $3::int[])) and state in ('completed', 'failed')`,
      [pending.map((d) => d.tenantId), pending.map((d) => d.documentId), pending.map((d) => d.version)],
    );
    const ended = new Map(result.rows.map((row) => [`${row.tenant_id}/${row.document_id}/${row.version}`, row]));
    for (const document of pending) {
      const row = ended.get(`${document.tenantId}/${document.documentId}/${document.version}`);
      if (row === undefined) continue;
      document.state = row.state;
      document.endedAt = Number(row.at);
    }
  }

  /** The documents in the pipeline at some time between `from` and `to` (sent by `to`, not ended before `from`). */
  during(from: number, to: number): LoadDocument[] {
    return this.documents.filter((d) => d.sentAt <= to && (d.endedAt === undefined || d.endedAt >= from));
  }

  /** The documents sent since `from` that have ended. */
  endedSince(from: number): LoadDocument[] {
    return this.documents.filter((d) => d.sentAt >= from && d.endedAt !== undefined);
  }
}

/** The `p`th percentile (nearest rank) of produce-to-end latencies of ended documents, in ms; undefined for none. */
export function latencyPercentile(documents: LoadDocument[], p: number): number | undefined {
  const sorted = documents.filter((d) => d.endedAt !== undefined).map((d) => d.endedAt! - d.sentAt).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}
