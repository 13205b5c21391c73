import { realpathSync } from 'node:fs';
import { ROOT } from './helpers/paths';
import { gitRoot, linesContaining, linkProblem, markdownLinks, projectFiles, readText } from './helpers/repository';

/** The folder beside the repository that an old link pointed to (spelled so this file does not match itself). */
const SHARED = ['..', 'shared', ''].join('/');

const files = projectFiles();
const fileSet = new Set(files);
const markdown = files.filter((file) => /\.(md|markdown)$/i.test(file));

describe('the repository is self-contained', () => {
  test('the files are listed from the repository root', () => {
    expect(realpathSync(gitRoot())).toBe(realpathSync(ROOT));
    expect(files).toContain('README.md');
    expect(files).toContain('docs/design.md');
  });

  test(`no text file points at ${SHARED}`, () => {
    const problems: string[] = [];
    for (const file of files) {
      const text = readText(file);
      if (text === undefined) continue;
      for (const line of linesContaining(text, SHARED)) problems.push(`${file}:${line}: points outside the repository (${SHARED})`);
    }
    expect(problems).toEqual([]);
  });

  test('every relative link of every Markdown file names a file of the repository', () => {
    // README.md, docs/*.md, helm/**/README.md and every other *.md of the project.
    expect(markdown).toEqual(expect.arrayContaining(['README.md', 'docs/design.md']));
    const problems: string[] = [];
    for (const file of markdown) {
      for (const link of markdownLinks(readText(file) ?? '')) {
        const problem = linkProblem(file, link.target, fileSet);
        if (problem !== undefined) problems.push(`${file}:${link.line}: link to ${link.target} ${problem}`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('the link checker', () => {
  const known = new Set(['README.md', 'docs/design.md', 'libs/contracts/src/messages.ts']);

  test('finds inline links, images, reference definitions and HTML links, with their lines', () => {
    const text = [
      '# Title',
      'See [the design](docs/design.md "the contract") and ![a chart](img/chart.png).',
      'A [link whose text',
      'wraps](<libs/contracts/src/messages.ts>).',
      '[ref]: ../elsewhere.md',
      '<a href="docs/missing.md">x</a>',
    ].join('\n');
    expect(markdownLinks(text)).toEqual([
      { line: 2, target: 'docs/design.md' },
      { line: 2, target: 'img/chart.png' },
      { line: 4, target: 'libs/contracts/src/messages.ts' },
      { line: 5, target: '../elsewhere.md' },
      { line: 6, target: 'docs/missing.md' },
    ]);
  });

  test('reads links whose text is code, and none inside code', () => {
    const text = ['[`docs/design.md`](docs/design.md)', '`[not](a-link.md)`', '```md', '[also not](b.md)', '```', '[after](c.md)'].join('\n');
    expect(markdownLinks(text)).toEqual([
      { line: 1, target: 'docs/design.md' },
      { line: 6, target: 'c.md' },
    ]);
  });

  test('accepts files and folders of the repository, external URLs and anchors', () => {
    for (const [from, target] of [
      ['README.md', 'docs/design.md'],
      ['docs/design.md', '../libs/contracts/src/messages.ts'],
      ['docs/design.md', '../README.md#configuration'],
      ['docs/design.md', '../libs/contracts'],
      ['docs/design.md', '/libs/contracts/src/'],
      ['README.md', 'https://github.com/edenhill/kcat'],
      ['README.md', 'mailto:ops@example.com'],
      ['README.md', '#quickstart'],
    ] as const) {
      expect(linkProblem(from, target, known, '/repo')).toBeUndefined();
    }
  });

  test('rejects links outside the repository and to files that do not exist', () => {
    expect(linkProblem('README.md', `${SHARED}DESIGN.md`, known, '/repo')).toBe('resolves outside the repository');
    expect(linkProblem('docs/design.md', '../../README.md', known, '/repo')).toBe('resolves outside the repository');
    expect(linkProblem('README.md', 'file:///work/shared/DESIGN.md', known, '/repo')).toMatch(/outside the repository/);
    expect(linkProblem('README.md', 'docs/Design.md', known, '/repo')).toBe('names docs/Design.md, which is not a file of the repository');
    expect(linkProblem('docs/design.md', 'design.md#states', known, '/repo')).toBeUndefined();
    expect(linkProblem('docs/design.md', 'libs/contracts/src/messages.ts', known, '/repo')).toMatch(/names docs\/libs\/contracts/);
    expect(linkProblem('README.md', '/work/shared/DESIGN.md', known, '/repo')).toMatch(/not a file of the repository/);
  });
});
