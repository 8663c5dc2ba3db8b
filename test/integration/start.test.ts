import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, spawnServer, type ChildServer } from '../helpers/child.js';
import { solid } from '../helpers/images.js';
import { ApiClient, tempDir } from '../helpers/server.js';

const START = path.join(ROOT, 'bin/start.js');
const servers: ChildServer[] = [];
const dirs: string[] = [];
afterAll(() => {
  for (const s of servers) s.proc.kill('SIGKILL');
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** `npm start` is `node bin/start.js`; run it the same way, as a real child process. */
async function npmStart(args: string[], env: NodeJS.ProcessEnv) {
  const dataDir = tempDir('darkroom-start-');
  dirs.push(dataDir);
  const server = await spawnServer(['--port', '0', '--data-dir', dataDir, '--workers', '1', ...args], { DARKROOM_HEADLESS: undefined, ...env }, START);
  servers.push(server);
  return server;
}

describe('npm start', () => {
  it('says in one line why it runs headless where there is no display, and serves the engine', async () => {
    // No display here (whether or not an Electron binary exists on this machine).
    const server = await npmStart([], { DISPLAY: undefined, WAYLAND_DISPLAY: undefined });
    const lines = server.stdout().trim().split('\n');
    const reason = process.platform === 'linux' ? 'no display (DISPLAY is not set)' : /./;
    expect(lines[0]).toMatch(/^darkroom: starting headless: /);
    if (typeof reason === 'string') expect(lines[0]).toBe(`darkroom: starting headless: ${reason}`);
    expect(lines.filter((l) => l.startsWith('darkroom: starting headless')).length).toBe(1);
    expect(lines.at(-1)).toBe(`darkroom listening on ${server.url}`);

    // A working server: the first start printed an admin key and a login link for the web UI.
    const key = /created the first admin key .*: (drk_\S+)/.exec(server.stdout())?.[1];
    expect(key).toBeDefined();
    expect(server.stdout()).toContain(`${server.url}/#key=${key}`);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    const admin = new ApiClient(server.url, key);
    const uploaded = await admin.upload([{ name: 'start.png', data: await solid(32, 32, 'png') }]);
    expect(uploaded.status).toBe(202);
    expect((await admin.waitFor(uploaded.body.id)).status).toBe('done');

    server.proc.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('runs headless when asked, with --headless or DARKROOM_HEADLESS=1', async () => {
    for (const [args, env] of [
      [['--headless'], {}],
      [[], { DARKROOM_HEADLESS: '1' }],
    ] as const) {
      const server = await npmStart([...args], env);
      expect(server.stdout().split('\n')[0]).toBe('darkroom: starting headless: headless mode requested');
      expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
      server.proc.kill('SIGTERM');
      expect(await server.exited).toBe(0);
    }
  });
});

describe('npm run serve', () => {
  it('builds what a fresh checkout is missing (engine and web UI), then serves', async () => {
    // The project's tracked files, as a clone has them: no dist/.
    const checkout = tempDir('darkroom-checkout-');
    dirs.push(checkout);
    const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT }).toString('utf8').split('\0').filter(Boolean);
    for (const file of tracked) {
      if (!fs.existsSync(path.join(ROOT, file))) continue;
      fs.mkdirSync(path.dirname(path.join(checkout, file)), { recursive: true });
      fs.copyFileSync(path.join(ROOT, file), path.join(checkout, file));
    }
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(checkout, 'node_modules'));
    expect(fs.existsSync(path.join(checkout, 'dist'))).toBe(false);

    const dataDir = tempDir('darkroom-serve-');
    dirs.push(dataDir);
    // `npm run serve` is `node bin/serve.js` (with the engine's flags); a full build takes a while.
    const server = await spawnServer(['--port', '0', '--data-dir', dataDir, '--workers', '1'], {}, path.join(checkout, 'bin/serve.js'), [], 240_000);
    servers.push(server);
    expect(fs.existsSync(path.join(checkout, 'dist/server/cli.js'))).toBe(true);
    const page = await fetch(`${server.url}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<div id="root">');
    server.proc.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  }, 300_000);
});
