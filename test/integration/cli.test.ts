import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { ENGINE_ENV, ENGINE_NODE_FLAGS } from '../../server/node-flags.js';
import { ROOT, run, spawnServer, type ChildServer } from '../helpers/child.js';
import { jpegWithExif } from '../helpers/images.js';
import { tempDirs } from '../helpers/server.js';

const exec = promisify(execFile);
const servers: ChildServer[] = [];

afterAll(() => {
  for (const s of servers) s.proc.kill('SIGKILL');
});

const dir = tempDirs('darkroom-cli-');

async function curl(...args: string[]) {
  const { stdout } = await exec('curl', ['-sS', ...args], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

describe('the darkroom command', () => {
  it('stops with one clear line on a bad option, from a flag or from the environment', async () => {
    const flag = await run(['serve', '--processed-ttl', 'soon']);
    expect(flag.code).toBe(1);
    expect(flag.stderr.trim().split('\n')).toEqual(['darkroom: invalid --processed-ttl: expected a duration like 30s, 10m or 7d, got "soon"']);

    const env = await run(['serve'], { DARKROOM_MAX_UPLOAD_BYTES: 'lots' });
    expect(env.code).toBe(1);
    expect(env.stderr.trim()).toBe('darkroom: invalid --max-upload-bytes: expected a size like 500MB or 10GiB, got "lots"');

    const cronBad = await run(['serve', '--purge-schedule', 'every day']);
    expect(cronBad.stderr.trim()).toMatch(/^darkroom: invalid --purge-schedule: expected a cron expression/);

    // A link-signing key short enough to guess is refused at start, without echoing it.
    const shortKey = await run(['serve', '--url-signing-keys', `${'k'.repeat(40)},hunter2`]);
    expect(shortKey.code).toBe(1);
    expect(shortKey.stderr.trim().split('\n')).toEqual(['darkroom: invalid --url-signing-keys: key 2 of 2 is 7 characters; each must be at least 32 (e.g. openssl rand -base64 32)']);
  });

  it('refuses --storage s3 without a bucket, and verify with --storage s3, in one line each', async () => {
    const serve = await run(['serve', '--storage', 's3']);
    expect(serve.code).not.toBe(0);
    expect(serve.stderr.trim().split('\n')).toEqual(['darkroom: invalid --storage: s3 needs --s3-bucket (and the other --s3-* options the bucket needs)']);
    const verify = await run(['verify', '--storage', 's3', '--s3-bucket', 'photos', '--data-dir', dir()]);
    expect(verify.code).toBe(2);
    expect(verify.stderr).toMatch(/^darkroom: verify checks the files of a data dir; with --storage s3 the originals and processed files are in the bucket/);
  });

  it('creates a key with `keys create` that the server then accepts', async () => {
    const dataDir = dir();
    const created = await run(['keys', 'create', '--customer', 'studio', '--role', 'user', '--data-dir', dataDir]);
    expect(created.code).toBe(0);
    const key = created.stdout.trim();
    expect(key).toMatch(/^drk_/);
    expect(created.stderr).toContain('studio');

    const bad = await run(['keys', 'create', '--customer', 'studio', '--role', 'root', '--data-dir', dataDir]);
    expect(bad.code).not.toBe(0);

    const server = await spawnServer(['serve', '--data-dir', dataDir, '--port', '0']);
    servers.push(server);
    // First start without --admin-key: an admin key is made and printed once, with a login link.
    expect(server.stdout()).toMatch(/created the first admin key .*: drk_/);
    expect(server.stdout()).toMatch(/#key=drk_/);
    expect(server.stdout().match(/darkroom listening on/g)).toHaveLength(1);
    const res = await fetch(`${server.url}/v1/images`, { headers: { authorization: `Bearer ${key}` } });
    expect(res.status).toBe(200);
    server.proc.kill('SIGTERM');
    expect(await server.exited).toBe(0);

    // The second start prints no new key.
    const again = await spawnServer(['serve', '--data-dir', dataDir, '--port', '0']);
    servers.push(again);
    expect(again.stdout()).not.toContain('drk_');
    again.proc.kill('SIGTERM');
    await again.exited;
  });

  it('says in one line when Node was started without the engine flags, and not when it was', async () => {
    const bare = await spawnServer(['serve', '--data-dir', dir(), '--port', '0'], { ...ENGINE_ENV });
    servers.push(bare);
    // Printed before the ready line, so it is there once the server is.
    const notes = bare.stdout().split('\n').filter((l) => l.startsWith('darkroom: note: '));
    expect(notes).toHaveLength(1);
    for (const flag of ENGINE_NODE_FLAGS) expect(notes[0]).toContain(flag);

    const tuned = await spawnServer(['serve', '--data-dir', dir(), '--port', '0'], { ...ENGINE_ENV }, undefined, [...ENGINE_NODE_FLAGS]);
    servers.push(tuned);
    expect(tuned.stdout()).toContain('darkroom listening on');
    expect(tuned.stdout()).not.toContain('darkroom: note:');
    // SIGTERM right after the ready line still stops them cleanly.
    for (const server of [bare, tuned]) server.proc.kill('SIGTERM');
    expect(await bare.exited).toBe(0);
    expect(await tuned.exited).toBe(0);
  });

  it('runs with the engine environment: restarts itself with it where Node can, says so where it cannot', async () => {
    const server = await spawnServer(['serve', '--data-dir', dir(), '--port', '0'], {}, undefined, [...ENGINE_NODE_FLAGS]);
    servers.push(server);
    const environ = fs.readFileSync(`/proc/${server.proc.pid}/environ`, 'utf8').split('\0');
    const notes = server.stdout().split('\n').filter((l) => l.startsWith('darkroom: note: '));
    if (typeof (process as { execve?: unknown }).execve === 'function') {
      for (const [name, value] of Object.entries(ENGINE_ENV)) expect(environ).toContain(`${name}=${value}`);
      expect(notes).toEqual([]);
    } else {
      expect(notes).toHaveLength(1);
      for (const name of Object.keys(ENGINE_ENV)) expect(notes[0]).toContain(name);
    }
    server.proc.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('refuses a second server on the same data dir', async () => {
    const dataDir = dir();
    const first = await spawnServer(['serve', '--data-dir', dataDir, '--port', '0']);
    servers.push(first);
    const second = await run(['serve', '--data-dir', dataDir, '--port', '0']);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/in use by another Darkroom process \(pid \d+\)/);
    first.proc.kill('SIGTERM');
    await first.exited;
  });

  it('does what the README walks a new user through, with curl alone (short TTL)', async () => {
    const dataDir = dir();
    const photo = path.join(dataDir, 'photo.jpg');
    fs.writeFileSync(photo, await jpegWithExif());
    const server = await spawnServer(['serve', '--data-dir', dataDir, '--port', '0', '--processed-ttl', '3s', '--purge-schedule', '* * * * * *']);
    servers.push(server);
    const key = /created the first admin key .*: (drk_\S+)/.exec(server.stdout())![1]!;
    const auth = ['-H', `Authorization: Bearer ${key}`];

    const uploaded = JSON.parse((await curl(...auth, '-F', `image=@${photo}`, `${server.url}/v1/image`)).toString());
    expect(uploaded.status).toBe('queued');
    let record: any;
    for (let i = 0; i < 200; i++) {
      record = JSON.parse((await curl(...auth, `${server.url}/v1/image/${uploaded.id}`)).toString());
      if (record.status === 'done') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(record.status).toBe('done');

    const display = await curl(...auth, `${server.url}/v1/image/${uploaded.id}/download?variant=display`);
    expect((await sharp(display).metadata()).format).toBe('webp');
    const thumb = await curl(...auth, `${server.url}/v1/image/${uploaded.id}/download?variant=thumb`);
    expect((await sharp(thumb).metadata()).width).toBe(320);
    const metadata = JSON.parse((await curl(...auth, `${server.url}/v1/image/${uploaded.id}/metadata`)).toString());
    expect(metadata.exif.make).toBe('Canon');
    expect(metadata.gps.latitude).toBeCloseTo(48.8582, 3);

    // A raw upload, as `curl -T`.
    const raw = JSON.parse((await curl(...auth, '-H', 'X-Filename: again.jpg', '-T', photo, `${server.url}/v1/image`)).toString());
    expect(raw.filename).toBe('again.jpg');

    await new Promise((r) => setTimeout(r, 4500));
    const status = (await curl(...auth, '-o', '/dev/null', '-w', '%{http_code}', `${server.url}/v1/image/${uploaded.id}/download?variant=display`)).toString();
    expect(status).toBe('410');
    server.proc.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('npm start falls back to headless with a one-line reason where Electron cannot start', async () => {
    const dataDir = dir();
    const server = await spawnServer(['--port', '0', '--data-dir', dataDir], {}, path.join(ROOT, 'bin/start.js'));
    servers.push(server);
    const reason = server.stdout().split('\n').find((l) => l.startsWith('darkroom: starting headless: '));
    expect(reason).toBeDefined();
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    server.proc.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });
});
