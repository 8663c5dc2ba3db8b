#!/usr/bin/env node
// `npm start`: build what is missing, then open the desktop app; where Electron cannot start,
// say why in one line and run the same engine headless.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const args = process.argv.slice(2);
// An Electron that exits with an error this soon did not start (missing libraries, no GPU …).
const EARLY_EXIT_MS = 10_000;

function tsc(project) {
  // Build mode: when nothing changed it only compares timestamps (a fraction of a second).
  return spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-b', project], { cwd: root, stdio: 'inherit' }).status;
}

function electronInstalled() {
  try {
    return dirname(require.resolve('electron/package.json'));
  } catch {
    return undefined;
  }
}

/** Builds the engine (required), the desktop shell and the web UI (each when its tools are installed). */
function build() {
  // Incremental: a stale dist/ never runs.
  const server = tsc('tsconfig.json');
  if (server !== 0) process.exit(server ?? 1);
  const shellBuilt = electronInstalled() ? tsc('electron/tsconfig.json') === 0 : false;
  buildUi();
  return { shellBuilt };
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
  const dir = electronInstalled();
  if (!dir) return { reason: 'Electron is not installed' };
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
function desktop(shellBuilt) {
  if (args.includes('--headless') || process.env.DARKROOM_HEADLESS === '1') return { reason: 'headless mode requested' };
  if (!electronInstalled()) return { reason: 'Electron is not installed' };
  if (!shellBuilt || !existsSync(join(root, 'dist/electron/main.js'))) return { reason: 'the desktop shell did not build' };
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return { reason: 'no display (DISPLAY is not set)' };
  return electronExecutable();
}

async function headless(reason) {
  process.stdout.write(`darkroom: starting headless: ${reason}\n`);
  const { main } = await import(`${root}/dist/server/cli.js`);
  await main([process.argv[0], 'darkroom', 'serve', ...args.filter((a) => a !== '--headless')]);
}

const { shellBuilt } = build();
const app = desktop(shellBuilt);
if (!app.file) {
  await headless(app.reason);
} else {
  const started = Date.now();
  // During development node_modules are built for this Node, not for Electron: the shell runs
  // the engine with it (DARKROOM_NODE). The packaged app runs it inside Electron instead.
  const child = spawn(app.file, [join(root, 'dist/electron/main.js'), ...args], {
    stdio: 'inherit',
    env: { ...process.env, DARKROOM_NODE: process.execPath },
  });
  const forward = (signal) => child.kill(signal);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  child.on('error', (err) => void headless(`Electron could not start (${err.message})`));
  child.on('exit', (code, signal) => {
    process.off('SIGINT', forward);
    process.off('SIGTERM', forward);
    if ((code !== 0 || signal) && Date.now() - started < EARLY_EXIT_MS) {
      void headless(`Electron could not start (${signal ?? `exit code ${code}`})`);
      return;
    }
    process.exit(code ?? 0);
  });
}
