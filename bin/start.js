#!/usr/bin/env node
// `npm start`: build what is missing, then open the desktop app; where Electron cannot start,
// say why in one line and run the same engine headless.
import './supported-node.js';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildEngine, buildShell, buildUi, electronInstalled, restartWithEngineEnvFirst, root } from './build.js';

await restartWithEngineEnvFirst();

const args = process.argv.slice(2);
// An Electron that exits with an error this soon did not start (missing libraries, no GPU …).
const EARLY_EXIT_MS = 10_000;

/** Builds the engine (required), the desktop shell and the web UI (each when its tools are installed). */
function build() {
  buildEngine();
  const shellBuilt = buildShell();
  buildUi();
  return { shellBuilt };
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
  // Where nothing was built before this start, the restart for the engine's settings comes
  // now, before anything is said, so that the restarted `npm start` says its one line once.
  await restartWithEngineEnvFirst();
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
