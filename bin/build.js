// Builds what a source checkout is missing before it runs: the engine (TypeScript), the desktop
// shell and the web UI (Vite), each incrementally, so an up-to-date checkout costs a fraction of
// a second. Shared by `npm start` and `npm run serve`.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);

function resolves(specifier) {
  try {
    return require.resolve(specifier);
  } catch {
    return undefined;
  }
}

function tsc(project) {
  // Build mode: when nothing changed it only compares timestamps.
  return spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-b', project], { cwd: root, stdio: 'inherit' }).status;
}

/**
 * The engine, compiled incrementally so a stale dist/ never runs. An installed package (no
 * TypeScript, no sources) runs the dist/ it ships.
 */
export function buildEngine() {
  const compiled = existsSync(join(root, 'dist/server/cli.js'));
  if (!existsSync(join(root, 'tsconfig.json')) || !resolves('typescript/bin/tsc')) {
    if (compiled) return;
    process.stderr.write('darkroom: not built, and TypeScript is not installed to build it (run npm ci)\n');
    process.exit(1);
  }
  const status = tsc('tsconfig.json');
  if (status !== 0) process.exit(status ?? 1);
}

/** The desktop shell, where Electron is installed; true when it built. */
export function buildShell() {
  return electronInstalled() !== undefined && tsc('electron/tsconfig.json') === 0;
}

export function electronInstalled() {
  const found = resolves('electron/package.json');
  return found && dirname(found);
}

/** The newest modification time of the web UI's sources. */
function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const file = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(file) : statSync(file).mtimeMs);
  }
  return newest;
}

/** The web UI, when it is missing or older than its sources (Vite; a few seconds). */
export function buildUi() {
  const index = join(root, 'dist/renderer/index.html');
  if (!existsSync(join(root, 'renderer'))) return;
  const sourcesChanged = () => Math.max(newestSource(join(root, 'renderer')), statSync(join(root, 'vite.config.ts')).mtimeMs) > statSync(index).mtimeMs;
  if (existsSync(index) && !sourcesChanged()) return;
  const vitePackage = resolves('vite/package.json');
  if (!vitePackage) {
    process.stdout.write('darkroom: the web UI is not built and Vite is not installed (run npm ci); starting without it\n');
    return;
  }
  process.stdout.write('darkroom: building the web UI…\n');
  const result = spawnSync(process.execPath, [join(dirname(vitePackage), 'bin/vite.js'), 'build', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

/**
 * Restarts this command with the engine's allocator settings in its environment
 * (server/node-flags.ts) before anything is built, where a build exists to say what they are:
 * the engine would restart itself for them anyway, and everything done before that, builds
 * included, would be done twice.
 */
export async function restartWithEngineEnvFirst() {
  const flags = join(root, 'dist/server/node-flags.js');
  if (!existsSync(flags)) return;
  const { restartWithEngineEnv } = await import(flags);
  restartWithEngineEnv();
}
