#!/usr/bin/env node
// `npm run dist [-- --linux|--win|--mac] [-- --x64|--arm64]`: packages the desktop app with
// electron-builder (electron-builder.yml). The app is staged into release/app with its
// production dependencies installed for the target platform, and electron-builder runs on
// the stage, never on the project's own node_modules. The native modules use Node-API and
// load in Electron as they are. Needs the network (the npm registry for the stage,
// Electron's release downloads for the packages). Output: release/packages/.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const stage = path.join(root, 'release/app');
const args = process.argv.slice(2);

const PLATFORMS = { '--linux': 'linux', '--win': 'win32', '--mac': 'darwin' };
const ARCHS = ['--x64', '--arm64', '--ia32', '--armv7l', '--universal'];
const platform = Object.entries(PLATFORMS).find(([flag]) => args.includes(flag))?.[1] ?? process.platform;
const arch = ARCHS.find((flag) => args.includes(flag))?.slice(2) ?? process.arch;

function run(command, commandArgs, cwd = root) {
  process.stdout.write(`dist: ${path.basename(command)} ${commandArgs.join(' ')}\n`);
  const result = spawnSync(command, commandArgs, { cwd, stdio: 'inherit', shell: process.platform === 'win32' && command === 'npm' });
  if (result.status !== 0) {
    process.stderr.write(`dist: failed: ${command} ${commandArgs.join(' ')}\n`);
    process.exit(result.status ?? 1);
  }
}

const npm = (npmArgs, cwd) =>
  process.env.npm_execpath ? run(process.execPath, [process.env.npm_execpath, ...npmArgs], cwd) : run('npm', npmArgs, cwd);

// 1. Build the engine, the shell and (when the project has one) the web UI.
const tsc = require.resolve('typescript/bin/tsc');
run(process.execPath, [tsc, '-b', 'tsconfig.json']);
run(process.execPath, [tsc, '-b', 'electron/tsconfig.json']);
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
if (pkg.scripts?.['build:ui']) npm(['run', 'build:ui']);

// 2. Stage: the compiled app, its icons, the packaging config, and a package.json whose
// dependencies match the lock file (so `npm ci` can install exactly those, production only).
fs.rmSync(stage, { recursive: true, force: true });
fs.mkdirSync(stage, { recursive: true });
const skip = (file) => file.endsWith('.map') || file.endsWith('.tsbuildinfo');
for (const part of ['server', 'workers', 'electron', 'renderer']) {
  const from = path.join(root, 'dist', part);
  if (fs.existsSync(from)) fs.cpSync(from, path.join(stage, 'dist', part), { recursive: true, filter: (f) => !skip(f) });
}
fs.cpSync(path.join(root, 'build'), path.join(stage, 'build'), { recursive: true });
fs.copyFileSync(path.join(root, 'electron-builder.yml'), path.join(stage, 'electron-builder.yml'));
fs.copyFileSync(path.join(root, 'package-lock.json'), path.join(stage, 'package-lock.json'));
const { scripts: _scripts, ...appPackage } = pkg;
const author = appPackage.author ?? { name: 'Darkroom contributors', email: 'darkroom@users.noreply.invalid' };
fs.writeFileSync(path.join(stage, 'package.json'), `${JSON.stringify({ ...appPackage, author, main: 'dist/electron/main.js' }, null, 2)}\n`);

// 3. Production dependencies for the target platform (sharp's platform packages are optional
// dependencies chosen by os and cpu). Install scripts are skipped: the native modules come
// prebuilt for Node-API, which Electron loads as Node does.
const npmArch = arch === 'universal' ? process.arch : arch;
npm(['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', `--os=${platform}`, `--cpu=${npmArch}`], stage);

// 4. Package. The Electron version is the one the project develops with.
const electronVersion = JSON.parse(fs.readFileSync(require.resolve('electron/package.json'), 'utf8')).version;
run(process.execPath, [
  require.resolve('electron-builder/cli.js'),
  '--projectDir',
  stage,
  '--config',
  'electron-builder.yml',
  `-c.electronVersion=${electronVersion}`,
  ...args,
]);
process.stdout.write(`dist: done; packages are in ${path.relative(root, path.join(root, 'release/packages'))}/\n`);
