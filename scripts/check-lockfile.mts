/**
 * `node scripts/check-lockfile.mts` (part of `npm run lint`): fails, naming each entry, when
 * package-lock.json holds an entry `npm ci` would refuse or lags a package.json.
 */
import path from 'node:path';
import { checkLockfile } from './lockfile.ts';

const root = path.resolve(import.meta.dirname, '..');
const problems = checkLockfile(root);
if (problems.length > 0) {
  console.error(`package-lock.json: ${problems.length} problem${problems.length === 1 ? '' : 's'} (npm ci would refuse it):`);
  for (const problem of problems) console.error(`  - ${problem}`);
  console.error('Repair it with `npm run lock` (scripts/lock.sh), then commit package-lock.json.');
  process.exit(1);
}
console.log('package-lock.json: in step with every package.json, every entry has a version');
