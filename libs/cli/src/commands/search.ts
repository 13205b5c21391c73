import { createEmbeddingProvider, loadEmbeddingConfig } from '@docintel/embedding';
import { createVectorStore, loadVectorStoreConfig, type VectorMatch } from '@docintel/vectorstore';
import path from 'node:path';
import type { CliContext } from '../context';
import { homeDir } from '../paths';
import { terminalCell, terminalSafe } from '../terminal';

export interface SearchOptions {
  tenant: string;
  top: number;
  /** Matches scoring below it are left out (so there may be fewer than `top`). @default none */
  minScore?: number;
  quiet?: boolean;
}

/** Top matches for a query in one tenant's namespace, with score, document and chunk text. */
export async function searchCommand(ctx: CliContext, query: string, options: SearchOptions): Promise<VectorMatch[]> {
  if (query.trim() === '') throw new Error('search needs a query text');
  const provider = createEmbeddingProvider(loadEmbeddingConfig(ctx.env));
  const store = createVectorStore(loadVectorStoreConfig({ LANCEDB_DIR: path.join(homeDir(ctx.env), 'lancedb'), ...ctx.env }));
  try {
    const [vector] = await provider.embed([query], 'query');
    const { minScore } = options;
    const found = await store.query(options.tenant, vector!, options.top);
    const matches = minScore === undefined ? found : found.filter((match) => match.score >= minScore);
    if (!options.quiet) {
      ctx.out(`search ${terminalSafe(options.tenant)}: "${terminalSafe(query)}"`);
      if (matches.length === 0) ctx.out(found.length === 0 ? '  no matches' : `  no matches scoring ${minScore} or more`);
      // Titles, headings and text are the tenants' documents: terminal-safe, and cut.
      matches.forEach((match, i) => {
        ctx.out(`  ${i + 1}. ${match.score.toFixed(3)}  ${terminalCell(match.title || match.documentId, 120)}  (${terminalCell(whereIs(match), 120)})`);
        if (match.headingPath?.length) ctx.out(`     § ${terminalCell(match.headingPath.join(' › '), 160)}`);
        ctx.out(`     ${terminalCell(match.text.replace(/\s+/g, ' '), 160)}`);
      });
    }
    return matches;
  } finally {
    await store.close();
    await provider.close?.();
  }
}

/** "doc-1, p. 3, chunk 4": the document, the pages when it has them, and the chunk. */
export function whereIs(match: Pick<VectorMatch, 'documentId' | 'chunkIndex' | 'page' | 'pageEnd'>): string {
  const pages =
    match.page === undefined ? '' : match.pageEnd !== undefined && match.pageEnd > match.page ? `, pp. ${match.page}-${match.pageEnd}` : `, p. ${match.page}`;
  return `${match.documentId}${pages}, chunk ${match.chunkIndex}`;
}
