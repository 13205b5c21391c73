import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './broker';

export const SECTION_TITLE = "## Inspecting and replaying with Kafka's tools";
/** The README section for tenants' applications, with the producer examples. */
export const PRODUCERS_TITLE = '## Sending documents from your application';

export interface Recipe {
  name: string;
  script: string;
}

/** A README section (by default the one on Kafka's tools), from its title to the next `## ` heading. */
export function readSection(title = SECTION_TITLE, readme = path.join(ROOT, 'README.md')): string {
  const text = readFileSync(readme, 'utf8');
  const start = text.indexOf(`\n${title}\n`);
  if (start < 0) throw new Error(`README.md has no section "${title}"`);
  const end = text.indexOf('\n## ', start + title.length + 2);
  return text.slice(start, end < 0 ? undefined : end);
}

/** Every fenced block that follows a `<!-- recipe: name -->` line, as it is written. */
export function readRecipes(section: string): Map<string, Recipe> {
  const recipes = new Map<string, Recipe>();
  for (const match of section.matchAll(/<!-- recipe: ([\w-]+) -->\n```(?:sh|bash)\n([\s\S]*?)\n```/g)) {
    const name = match[1]!;
    if (recipes.has(name)) throw new Error(`two recipes are called "${name}"`);
    recipes.set(name, { name, script: match[2]! });
  }
  return recipes;
}

/** Whether `command args...` runs and exits with 0. */
function succeeds([command, ...args]: readonly string[]): boolean {
  try {
    execFileSync(command!, args, { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Throws, naming the installer, when a client the recipe uses is missing: kcat, psql, or a Python
 * module in the interpreter the recipes run (`PYTHON`, else Debian's /usr/bin/python3).
 */
export function checkClients(recipe: Recipe, env: NodeJS.ProcessEnv = process.env): void {
  const python = env.PYTHON ?? '/usr/bin/python3';
  const clients = [
    { name: 'kcat', uses: /\bkcat\b/, check: ['bash', '-c', 'command -v kcat'] },
    { name: 'psql', uses: /\bpsql\b/, check: ['bash', '-c', 'command -v psql'] },
    { name: `the Python module confluent_kafka (in ${python})`, uses: /\b(?:from|import) confluent_kafka\b/, check: [python, '-c', 'import confluent_kafka'] },
    { name: `the Python module psycopg2 (in ${python})`, uses: /\bimport psycopg2\b/, check: [python, '-c', 'import psycopg2'] },
  ];
  for (const client of clients) {
    if (client.uses.test(recipe.script) && !succeeds(client.check)) {
      throw new Error(`${client.name} is not installed: run deploy/kafka/install-clients.sh (recipe "${recipe.name}" uses it)`);
    }
  }
}

export interface RecipeResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs a recipe with bash from the repository's root, as a reader would paste it, with `-e` and
 * `-o pipefail` so that a failing step fails the recipe; rejects with its output when it does.
 */
export function runRecipe(recipe: Recipe, env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<RecipeResult> {
  return new Promise((resolve, reject) => {
    execFile('bash', ['-e', '-o', 'pipefail', '-c', recipe.script], { cwd: ROOT, env, timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`recipe "${recipe.name}" failed (${error.message.split('\n')[0]}):\nstdout:\n${stdout}\nstderr:\n${stderr}`, { cause: error }));
      } else {
        resolve({ stdout, stderr });
      }
    });
  });
}
