import { fileURLToPath } from 'node:url';

/**
 * The compiled JavaScript file of a worker thread, given its path from the project root
 * (`workers/image.worker.js`). Worker threads run plain JavaScript: when this module itself runs
 * from TypeScript source (under the test runner), the file is taken from the build output.
 */
export function compiledWorkerPath(fromRoot: string): string {
  const here = import.meta.url; // …/server/util/worker-path.{ts,js}
  const root = here.endsWith('.ts') ? '../../dist/' : '../../';
  return fileURLToPath(new URL(`${root}${fromRoot}`, here));
}
