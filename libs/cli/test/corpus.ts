import { seededRandom } from '@docintel/core';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

const WORDS = (
  'account active adapter agent archive audit backlog balance batch billing branch buffer build cache capacity ' +
  'catalog channel checkout client cluster commit config contract cursor dashboard dataset deploy digest domain ' +
  'draft engine event export feature filter folder forecast gateway graph handler header import index invoice ' +
  'journal kernel label ledger limit listener manifest market member metric module monitor network notice offset ' +
  'order owner packet parser partner payload pipeline policy portal profile project quota record region release ' +
  'replica report request resource review router sample schedule schema search segment server session signal ' +
  'snapshot source storage stream subject summary supplier table target template tenant ticket token topic trace ' +
  'update upload usage vendor version volume warehouse window worker'
).split(' ');

/** The same corpus on every run. */
export const random = seededRandom;

/** `count` words of the corpus's vocabulary, drawn with `next`. */
export function words(next: () => number, count: number): string[] {
  return Array.from({ length: count }, () => WORDS[Math.floor(next() * WORDS.length)]!);
}

const SYLLABLES = ['ka', 'zu', 'mor', 'vel', 'tri', 'quo', 'bex', 'lun', 'dra', 'syl', 'fen', 'gor', 'pim', 'rax', 'oth', 'wen'];

/** A made-up word (e.g. "velmorzu"): it occurs in one document only, so a search for it has one right answer. */
function inventedWord(next: () => number): string {
  return Array.from({ length: 4 }, () => SYLLABLES[Math.floor(next() * SYLLABLES.length)]!).join('');
}

export interface CorpusDocument {
  tenant: string;
  file: string;
  /** A phrase that occurs in this document only. */
  phrase: string;
}

/** Writes `count` markdown documents per tenant; every `largeEvery`th is ~60 KB (several chunk batches). */
export async function writeCorpus(dir: string, tenants: string[], count: number, largeEvery = 8): Promise<CorpusDocument[]> {
  const documents: CorpusDocument[] = [];
  for (const [t, tenant] of tenants.entries()) {
    await mkdir(path.join(dir, tenant), { recursive: true });
    for (let i = 0; i < count; i++) {
      const next = random(1_000 * t + i + 1);
      const paragraphs = i % largeEvery === 0 ? 120 : 4 + Math.floor(next() * 6);
      const phrase = `${inventedWord(next)} ${inventedWord(next)} ${inventedWord(next)}`;
      const lines = [`# ${tenant} document ${i}`, ''];
      for (let p = 0; p < paragraphs; p++) {
        const paragraph = words(next, 70);
        if (p === Math.floor(paragraphs / 2)) paragraph.splice(10, 0, phrase);
        lines.push(`${paragraph.join(' ')}.`, '');
      }
      const file = path.join(dir, tenant, `doc-${String(i).padStart(3, '0')}.md`);
      await writeFile(file, lines.join('\n'));
      documents.push({ tenant, file, phrase });
    }
  }
  return documents;
}
