#!/usr/bin/env node
// `npm start`: build what is missing, then open the desktop app; where Electron cannot start,
// say why in one line and run the same engine headless.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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

/** Why the desktop app cannot start here, or undefined when it can. */
function electronUnavailable() {
  if (args.includes('--headless') || process.env.DARKROOM_HEADLESS === '1') return 'headless mode requested';
  let electronPath;
  try {
    electronPath = require('electron');
  } catch {
    return 'Electron is not installed';
  }
  if (typeof electronPath !== 'string' || !existsSync(electronPath)) {
    return 'the Electron binary is not downloaded (run `npx install-electron` where the network allows)';
  }
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return 'no display (DISPLAY is not set)';
  return undefined;
}

build();
const reason = electronUnavailable();
if (reason === undefined && existsSync(`${root}/dist/electron/main.js`)) {
  const result = spawnSync(require('electron'), [`${root}/dist/electron/main.js`, ...args], { stdio: 'inherit' });
  process.exit(result.status ?? 0);
}
process.stdout.write(`darkroom: starting headless: ${reason ?? 'the desktop shell is not built'}\n`);
const { main } = await import(`${root}/dist/server/cli.js`);
await main([process.argv[0], 'darkroom', 'serve', ...args.filter((a) => a !== '--headless')]);
