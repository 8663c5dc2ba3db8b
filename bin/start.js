#!/usr/bin/env node
// `npm start`: build what is missing, then open the desktop app; where Electron cannot start,
// say why in one line and run the same engine headless.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);

function build() {
  // Incremental: a no-op build takes about a second; a stale dist/ never runs.
  const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json', '--incremental'], {
    cwd: root,
    stdio: 'inherit',
  });
  if (tsc.status !== 0) process.exit(tsc.status ?? 1);
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

/** Builds the web UI when it is missing or older than its sources (Vite; a few seconds). */
function buildUi() {
  const index = join(root, 'dist/renderer/index.html');
  if (!existsSync(join(root, 'renderer'))) return;
  const sourcesChanged = () => Math.max(newestSource(join(root, 'renderer')), statSync(join(root, 'vite.config.ts')).mtimeMs) > statSync(index).mtimeMs;
  if (existsSync(index) && !sourcesChanged()) return;
  let vite;
  try {
    vite = join(dirname(require.resolve('vite/package.json')), 'bin/vite.js');
  } catch {
    process.stdout.write('darkroom: the web UI is not built and Vite is not installed (run npm ci); starting without it\n');
    return;
  }
  process.stdout.write('darkroom: building the web UI…\n');
  const result = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

/**
 * The Electron executable, downloading it first if needed (Electron 45+ installs its binary
 * lazily). Quiet and bounded: where the network is closed this fails fast and we run headless.
 */
function electronExecutable() {
  let dir;
  try {
    dir = dirname(require.resolve('electron/package.json'));
  } catch {
    return { reason: 'Electron is not installed' };
  }
  const located = () => {
    const pathFile = join(dir, 'path.txt');
    if (!existsSync(pathFile)) return undefined;
    const file = join(dir, 'dist', readFileSync(pathFile, 'utf8').trim());
    return existsSync(file) ? file : undefined;
  };
  if (!located()) {
    const install = spawnSync(process.execPath, [join(dir, 'install.js')], { cwd: dir, stdio: 'ignore', timeout: 120_000 });
    if (install.status !== 0 || !located()) return { reason: 'the Electron binary is not installed and could not be downloaded' };
  }
  return { file: located() };
}

/** Why the desktop app cannot start here, or the Electron executable. */
function desktop() {
  if (args.includes('--headless') || process.env.DARKROOM_HEADLESS === '1') return { reason: 'headless mode requested' };
  if (!existsSync(join(root, 'dist/electron/main.js'))) return { reason: 'the desktop shell is not built' };
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return { reason: 'no display (DISPLAY is not set)' };
  return electronExecutable();
}

build();
buildUi();
const app = desktop();
if (app.file) {
  const result = spawnSync(app.file, [join(root, 'dist/electron/main.js'), ...args], { stdio: 'inherit' });
  process.exit(result.status ?? 0);
}
process.stdout.write(`darkroom: starting headless: ${app.reason}\n`);
const { main } = await import(`${root}/dist/server/cli.js`);
await main([process.argv[0], 'darkroom', 'serve', ...args.filter((a) => a !== '--headless')]);
