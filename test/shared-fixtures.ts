// Where the project's shared reference data lives: `shared/` beside the repository (as CI lays
// it out: a fresh clone with a copy of shared/ next to it), else the workplace's /work/shared.
// A missing fixture fails the test that needs it; it is never skipped.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function sharedFixture(name: string): string {
  // This file runs from dist/test/, so the repository root is two levels up.
  const candidates = [fileURLToPath(new URL(`../../../shared/fixtures/${name}`, import.meta.url)), `/work/shared/fixtures/${name}`];
  const found = candidates.find((p) => existsSync(p));
  if (found === undefined) throw new Error(`shared fixture ${name} not found in ${candidates.join(' or ')}`);
  return found;
}
