import { fileURLToPath } from 'node:url';

/**
 * The compiled JavaScript file of a worker thread or child process, given its path from the
 * project root (`workers/image.worker.js`). They run plain JavaScript: when this module itself
 * runs from TypeScript source (under the test runner), the file is taken from the build output.
 * It lives with the workers because both the server and the workers start such files.
 */
export function compiledWorkerPath(fromRoot: string): string {
  const here = import.meta.url; // …/workers/worker-path.{ts,js}
  const root = here.endsWith('.ts') ? '../dist/' : '../';
  return fileURLToPath(new URL(`${root}${fromRoot}`, here));
}
