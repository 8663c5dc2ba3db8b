import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run, spawnServer, type ChildServer } from '../helpers/child.js';
import { solid } from '../helpers/images.js';
import { ADMIN_KEY, ApiClient, tempDirs } from '../helpers/server.js';

const servers: ChildServer[] = [];
afterAll(() => {
  for (const s of servers) s.proc.kill('SIGKILL');
});

const dir = tempDirs('darkroom-private-');

/** Every entry under a folder (itself included) whose mode is not 0700 for folders or 0600 for files. */
function notPrivate(root: string): string[] {
  const wrong: string[] = [];
  const visit = (p: string) => {
    const stats = fs.lstatSync(p);
    const mode = stats.mode & 0o777;
    if (stats.isDirectory()) {
      if (mode !== 0o700) wrong.push(`${path.relative(root, p) || '.'} ${mode.toString(8)}`);
      for (const name of fs.readdirSync(p)) visit(path.join(p, name));
    } else if (mode !== 0o600) {
      wrong.push(`${path.relative(root, p)} ${mode.toString(8)}`);
    }
  };
  visit(root);
  return wrong;
}

async function start(dataDir: string, extra: string[] = []) {
  const server = await spawnServer(['serve', '--data-dir', dataDir, '--port', '0', '--workers', '1', ...extra]);
  servers.push(server);
  return server;
}

async function stop(server: ChildServer) {
  server.proc.kill('SIGTERM');
  await server.exited;
}

describe('the data folder', () => {
  it('keeps every folder 0700 and every file 0600: database, originals, processed files, uploads in progress', async () => {
    const dataDir = path.join(dir(), 'data');
    const server = await start(dataDir, ['--admin-key', ADMIN_KEY]);
    const admin = new ApiClient(server.url, ADMIN_KEY);
    const uploaded = await admin.uploadRaw(await solid(64, 48, 'png'), 'private.png', 'image/png');
    expect(uploaded.status).toBe(202);
    expect((await admin.waitFor(uploaded.body.id)).status).toBe('done');
    // A resumable upload left half-way: its bytes and record sit in uploads/.
    const created = await admin.request('POST', '/v1/uploads', {
      headers: { 'tus-resumable': '1.0.0', 'upload-length': '1000', 'upload-metadata': `filename ${Buffer.from('half.png').toString('base64')}` },
    });
    expect(created.status).toBe(201);
    const half = await admin.request(
      'PATCH',
      created.headers.get('location')!,
      { headers: { 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }, body: (await solid(300, 300, 'png')).subarray(0, 400) },
    );
    expect(half.status).toBe(204);

    const files = fs.readdirSync(dataDir);
    expect(files).toEqual(expect.arrayContaining(['darkroom.db', 'darkroom.db-wal', 'originals', 'processed', 'uploads']));
    expect(notPrivate(dataDir)).toEqual([]);
    await stop(server);
  });

  it('makes the folder of an older install private at start, and `keys create` makes a new one private', async () => {
    const dataDir = dir();
    fs.chmodSync(dataDir, 0o755);
    fs.mkdirSync(path.join(dataDir, 'originals'), { mode: 0o755 });
    fs.chmodSync(path.join(dataDir, 'originals'), 0o755);
    const server = await start(dataDir, ['--admin-key', ADMIN_KEY]);
    expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
    expect(fs.statSync(path.join(dataDir, 'originals')).mode & 0o777).toBe(0o700);
    await stop(server);

    const fresh = path.join(dir(), 'new-data');
    const created = await run(['keys', 'create', '--customer', 'studio', '--role', 'user', '--data-dir', fresh]);
    expect(created.code).toBe(0);
    expect(notPrivate(fresh)).toEqual([]);
  });
});

describe('--admin-key', () => {
  it('never revives a key revoked through the API: start-up stops with one line', async () => {
    const dataDir = dir();
    const first = await start(dataDir, ['--admin-key', ADMIN_KEY]);
    const admin = new ApiClient(first.url, ADMIN_KEY);
    // A second admin revokes the bootstrap key (it leaked, say).
    const other = new ApiClient(first.url, (await admin.json('POST', '/v1/keys', { customer: 'local', role: 'admin' })).body.key);
    const bootstrapId = (await admin.json('GET', '/v1/me')).body.keyId;
    expect((await other.json('DELETE', `/v1/keys/${bootstrapId}`)).status).toBe(204);
    expect((await admin.json('GET', '/v1/images')).status).toBe(401);
    await stop(first);

    const again = await run(['serve', '--data-dir', dataDir, '--port', '0', '--admin-key', ADMIN_KEY]);
    expect(again.code).toBe(1);
    const lines = again.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(new RegExp(`^darkroom: --admin-key names key ${bootstrapId}, revoked on \\d{4}-.*never revived`));
    expect(again.stdout).not.toMatch(/listening/);

    // The key stays revoked, and the data dir is free for a server started without it.
    const without = await start(dataDir);
    expect((await new ApiClient(without.url, ADMIN_KEY).json('GET', '/v1/images')).status).toBe(401);
    await stop(without);
  });

  it('does not turn a user key into an admin key', async () => {
    const dataDir = dir();
    const userKey = (await run(['keys', 'create', '--customer', 'acme', '--role', 'user', '--data-dir', dataDir])).stdout.trim();
    const refused = await run(['serve', '--data-dir', dataDir, '--port', '0', '--admin-key', userKey]);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toMatch(/^darkroom: --admin-key names key key_\S+, a user key of customer "acme": give a key of its own$/);
  });
});
