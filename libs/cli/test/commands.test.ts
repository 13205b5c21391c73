import { CliContext } from '../src/context';
import { run } from '../src/main';
import { mimeTypeOf } from '../src/commands/ingest';
import { whereIs } from '../src/commands/search';

describe('mimeTypeOf', () => {
  it.each([
    ['a/guide.PDF', 'application/pdf'],
    ['report.docx', 'application/vnd.openxmlformats-officedocument.wordprocessingml.document'],
    ['notes.md', 'text/markdown'],
    ['page.htm', 'text/html'],
    ['old.doc', 'application/octet-stream'],
  ])('%s is %s', (file, type) => {
    expect(mimeTypeOf(file)).toBe(type);
  });
});

describe('whereIs', () => {
  it('shows the page or pages of a chunk when it has them', () => {
    expect(whereIs({ documentId: 'd', chunkIndex: 4 })).toBe('d, chunk 4');
    expect(whereIs({ documentId: 'd', chunkIndex: 4, page: 3, pageEnd: 3 })).toBe('d, p. 3, chunk 4');
    expect(whereIs({ documentId: 'd', chunkIndex: 4, page: 3, pageEnd: 5 })).toBe('d, pp. 3-5, chunk 4');
  });
});

describe('search --min-score', () => {
  it.each(['2', '-1.5', 'high', ''])('refuses %j before it connects', async (value) => {
    await expect(run(['search', '--tenant', 'acme', `--min-score=${value}`, 'kayak'], new CliContext({}, () => undefined))).rejects.toThrow(
      `--min-score must be a number from -1 to 1, got "${value}"`,
    );
  });
});
