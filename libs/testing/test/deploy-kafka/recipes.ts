import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './broker';

export const SECTION_TITLE = "## Inspecting and replaying with Kafka's tools";

export interface Recipe {
  name: string;
  script: string;
}

/** The README section on Kafka's tools, from its title to the next `## ` heading. */
export function readSection(readme = path.join(ROOT, 'README.md')): string {
  const text = readFileSync(readme, 'utf8');
  const start = text.indexOf(`\n${SECTION_TITLE}\n`);
  if (start < 0) throw new Error(`README.md has no section "${SECTION_TITLE}"`);
  const end = text.indexOf('\n## ', start + SECTION_TITLE.length + 2);
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
