import { ENGINE_ENV } from '../workers/engine-env.js';

/**
 * The Node.js flags the engine runs with: `npm start`, `npm run serve` and the desktop app's
 * engine process pass them (a test keeps those in step with this list). Both tune V8's garbage
 * collector for a process that streams gigabytes through short-lived 64 KiB Buffers (every
 * chunk of an upload body is one); measurements are in docs/performance.md.
 */
export const ENGINE_NODE_FLAGS = [
  // A small young generation: chunk wrappers are collected sooner, so memory stays flat.
  '--max-semi-space-size=2',
  // V8 counts the Buffers' memory allocated since the last full collection against the old
  // generation's limit. With a limit set just above a small heap (~17 MB live), every 10 MB of
  // upload started a full mark-compact: ~65-140 of them per 2 GiB, on both cores, about half
  // again the CPU of the upload itself. A 64 MB floor under that limit leaves the room to the
  // young generation's collections, which free those chunks anyway. The price: objects that
  // outlive the young generation may pile up to 64 MB before a full collection (V8's memory
  // reducer still collects once the process goes quiet).
  '--initial-old-space-size=64',
] as const;

/** The engine flags this process was started without (none when run as documented). */
export function missingEngineFlags(execArgv: readonly string[] = process.execArgv): string[] {
  return ENGINE_NODE_FLAGS.filter((flag) => !execArgv.includes(flag));
}

// The environment the engine runs with (workers/engine-env.ts says why); render processes get it too.
export { ENGINE_ENV };

/**
 * The ENGINE_ENV variables this process was started without (none off Linux, where glibc is not
 * the allocator). A variable the operator set to another value is theirs to choose.
 */
export function missingEngineEnv(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string[] {
  if (platform !== 'linux') return [];
  return Object.entries(ENGINE_ENV)
    .filter(([name]) => env[name] === undefined)
    .map(([name, value]) => `${name}=${value}`);
}

type Execve = (file: string, args: string[], env: NodeJS.ProcessEnv) => never;

/**
 * Replaces this process with itself started with ENGINE_ENV (same process id, same arguments
 * and Node flags), where Node can (process.execve: Node 22.15 and later). Call before anything
 * is opened. Returns when there is nothing to do or no way to do it.
 */
export function restartWithEngineEnv(): void {
  const execve = (process as unknown as { execve?: Execve }).execve;
  if (!missingEngineEnv().length || typeof execve !== 'function') return;
  execve.call(process, process.execPath, [process.execPath, ...process.execArgv, ...process.argv.slice(1)], { ...process.env, ...ENGINE_ENV });
}
