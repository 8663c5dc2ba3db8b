#!/usr/bin/env node
// `npm start`: build what is missing, then open the desktop app; where Electron cannot start,
// say why in one line and run the same engine headless.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
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
const app = desktop();
if (app.file) {
  const result = spawnSync(app.file, [join(root, 'dist/electron/main.js'), ...args], { stdio: 'inherit' });
  process.exit(result.status ?? 0);
}
process.stdout.write(`darkroom: starting headless: ${app.reason}\n`);
const { main } = await import(`${root}/dist/server/cli.js`);
await main([process.argv[0], 'darkroom', 'serve', ...args.filter((a) => a !== '--headless')]);
