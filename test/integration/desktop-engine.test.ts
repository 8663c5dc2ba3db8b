import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, run } from '../helpers/child.js';
import { solid } from '../helpers/images.js';
import { ApiClient, tempDir } from '../helpers/server.js';

const ENTRY = path.join(ROOT, 'dist/server/desktop/engine-process.js');
const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

type Message = { type: string; [key: string]: unknown };

/** The engine as the desktop shell starts it during development: a Node child with an IPC channel. */
function engine(args: string[], defaultDataDir: string) {
  const child = fork(ENTRY, [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'], env: { ...process.env, DARKROOM_LOG_LEVEL: 'info' } });
  children.push(child);
  const messages: Message[] = [];
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  child.on('message', (m) => messages.push(m as Message));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.send({ type: 'start', args, defaultDataDir });
  const next = async (type: string, timeoutMs = 30_000): Promise<Message> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = messages.find((m) => m.type === type);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no ${type} message; got ${JSON.stringify(messages)}\n${output}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  return { child, messages, next, exited, output: () => output };
}

describe('the desktop engine process', () => {
  it('starts on a random loopback port with a session admin key that never appears in its output', async () => {
    const dataDir = tempDir('darkroom-desktop-');
    dirs.push(dataDir);
    // Options that would open it to the LAN are overridden: the session key stays on this machine.
    const e = engine(['--host', '0.0.0.0', '--port', '7410', '--workers', '1', '--no-sandbox'], dataDir);
    const ready = await e.next('ready');
    expect(ready.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(ready.url).not.toBe('http://127.0.0.1:7410');
    expect(ready.dataDir).toBe(dataDir);
    const key = String(ready.key);
    expect(key).toMatch(/^drk_/);

    const admin = new ApiClient(String(ready.url), key);
    expect((await admin.json('GET', '/v1/keys')).status).toBe(200);
    const photos = tempDir('darkroom-drop-');
    dirs.push(photos);
    const files = ['a.png', 'b.png'].map((name, i) => {
      const file = path.join(photos, name);
      return { file, data: solid(20 + i, 20, 'png') };
    });
    for (const f of files) fs.writeFileSync(f.file, await f.data);
    // A drop on the window: imported by path, then the queue reports progress and a finished batch.
    const imported = await admin.json('POST', '/v1/image/import', { paths: files.map((f) => f.file) });
    expect(imported.status).toBe(202);
    const finished = await e.next('batch-finished');
    expect(finished).toMatchObject({ processed: 2, failed: 0 });
    expect(e.messages.some((m) => m.type === 'progress' && (m.pending as number) > 0 && m.total === 2)).toBe(true);

    e.child.send({ type: 'stop' });
    expect(await e.exited).toBe(0);
    expect(e.output()).toContain('darkroom listening on http://127.0.0.1:');
    expect(e.output()).not.toContain(key);
    expect(e.output()).not.toContain('drk_');
    expect(fs.readdirSync(dataDir)).toContain('darkroom.db');

    // The next session gets a new key; the old one no longer works.
    const again = engine([], dataDir);
    const second = await again.next('ready');
    expect(second.key).not.toBe(key);
    expect((await new ApiClient(String(second.url), key).json('GET', '/v1/images')).status).toBe(401);
    const list = await new ApiClient(String(second.url), String(second.key)).json('GET', '/v1/keys');
    expect(list.body.items.filter((k: { name: string }) => k.name === 'desktop session')).toHaveLength(1);

    // A second engine on the same data dir says why it cannot start, and exits.
    const third = engine([], dataDir);
    const failed = await third.next('failed');
    expect(String(failed.message)).toMatch(/data dir|in use|another/i);
    expect(await third.exited).toBe(1);

    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
  });

  it('refuses to run outside the desktop app', async () => {
    const result = await run([], {}, ENTRY);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('darkroom serve');
  });
});
