import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let found: string | undefined;

/** The version in this package's package.json, found from this module whether it runs from source or dist/. */
export function packageVersion(): string {
  if (found) return found;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) return (found = (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version);
    const parent = path.dirname(dir);
    if (parent === dir) return (found = '0.0.0');
    dir = parent;
  }
}
