import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './paths';

/**
 * The project's files, relative to the repository root: every tracked file still in the working
 * tree, and every untracked file git does not ignore (what the next commit may add, e.g. a new
 * page of docs/). In a fresh clone that is exactly the tracked files.
 */
export function projectFiles(root = ROOT): string[] {
  const listed = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const files = [...new Set(listed.split('\0').filter((file) => file !== ''))];
  // A tracked file deleted in the working tree is listed but cannot be read (or linked to); a
  // symbolic link to a folder (e.g. a linked node_modules) is no file to read.
  return files.filter((file) => statSync(path.join(root, file), { throwIfNoEntry: false })?.isFile() === true).sort();
}

/** The repository root as git sees it. */
export function gitRoot(from = ROOT): string {
  return execFileSync('git', ['rev-parse', '--show-toplevel'], { cwd: from, encoding: 'utf8' }).trim();
}

/** Text, by git's own rule: no NUL byte in the first 8,000 bytes. */
export function isText(content: Buffer): boolean {
  return !content.subarray(0, 8_000).includes(0);
}

/** A file's text, or undefined when it is binary. */
export function readText(file: string, root = ROOT): string | undefined {
  const content = readFileSync(path.join(root, file));
  return isText(content) ? content.toString('utf8') : undefined;
}

/** 1-based line numbers of the lines of `text` that contain `needle`. */
export function linesContaining(text: string, needle: string): number[] {
  return text.split('\n').flatMap((line, index) => (line.includes(needle) ? [index + 1] : []));
}

export interface MarkdownLink {
  /** 1-based line of the link's target. */
  line: number;
  /** The target as written, without angle brackets or a title. */
  target: string;
}

/**
 * The text of a Markdown file with what cannot hold a link blanked out, line for line: fenced
 * code blocks become empty lines, and code spans become as many `x`s as they are long (so that
 * ``[`name`](target)`` still reads as a link and the line numbers stay the same).
 */
function withoutCode(text: string): string {
  let fence: { char: string; length: number } | undefined;
  return text
    .split('\n')
    .map((line) => {
      const opening = /^ {0,3}(`{3,}|~{3,})/.exec(line);
      if (fence) {
        if (opening && opening[1]![0] === fence.char && opening[1]!.length >= fence.length && line.trim() === opening[1]) fence = undefined;
        return '';
      }
      if (opening) {
        fence = { char: opening[1]![0]!, length: opening[1]!.length };
        return '';
      }
      return line.replace(/(`+)(.+?)\1(?!`)/g, (span) => 'x'.repeat(span.length));
    })
    .join('\n');
}

const INLINE_LINK = /!?\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*(<[^>\n]*>|(?:[^\s()]|\([^\s()]*\))*)(?:\s+(?:"[^"]*"|'[^']*'|\([^)]*\)))?\s*\)/g;
const REFERENCE_DEFINITION = /^ {0,3}\[[^\]\n]+\]:[ \t]*(<[^>\n]*>|\S+)/gm;
const HTML_LINK = /<(?:a|img|source)\b[^>]*?\s(?:href|src)\s*=\s*["']([^"']*)["']/gi;

/** Every link target of a Markdown text: inline links and images, reference definitions, HTML `href`/`src`. */
export function markdownLinks(markdown: string): MarkdownLink[] {
  const text = withoutCode(markdown);
  const lineAt = (offset: number) => text.slice(0, offset).split('\n').length;
  const links: MarkdownLink[] = [];
  for (const pattern of [INLINE_LINK, REFERENCE_DEFINITION, HTML_LINK]) {
    for (const match of text.matchAll(pattern)) {
      const raw = match[1] ?? '';
      const target = raw.startsWith('<') && raw.endsWith('>') ? raw.slice(1, -1) : raw;
      links.push({ line: lineAt(match.index + match[0].indexOf(raw)), target: target.trim() });
    }
  }
  return links.sort((a, b) => a.line - b.line);
}

/**
 * What is wrong with a link from `file` (relative to the root) to `target`, or undefined when
 * nothing is. Links with a scheme (`https:`, `mailto:`) and to an anchor of the same page are
 * not checked; a `file:` URL always points outside. A path is resolved like GitHub does (from the
 * file's folder, or from the root when it starts with `/`), without its `?query` and `#anchor`,
 * and must name one of `files` or a folder holding some of them.
 */
export function linkProblem(file: string, target: string, files: ReadonlySet<string>, root = ROOT): string | undefined {
  if (/^file:/i.test(target)) return 'is a file: URL, outside the repository';
  if (target === '' || target.startsWith('#') || target.startsWith('//') || /^[a-z][a-z0-9+.-]*:/i.test(target)) return undefined;
  let pathPart = target.replace(/[?#].*$/, '');
  if (pathPart === '') return undefined;
  try {
    pathPart = decodeURI(pathPart);
  } catch {
    // not percent-encoded after all: check it as written
  }
  const resolved = pathPart.startsWith('/') ? path.join(root, pathPart) : path.resolve(root, path.dirname(file), pathPart);
  const relative = path.relative(root, resolved);
  if (relative.startsWith('..') || path.isAbsolute(relative)) return 'resolves outside the repository';
  if (relative === '') return undefined;
  const name = relative.split(path.sep).join('/');
  if (files.has(name)) return undefined;
  for (const listed of files) if (listed.startsWith(`${name}/`)) return undefined;
  return `names ${name}, which is not a file of the repository`;
}
