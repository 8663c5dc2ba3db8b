import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { RunningServer } from '../../server/main.js';
import { eventually } from '../helpers/eventually.js';
import { sha256 } from '../helpers/hash.js';
import { solid } from '../helpers/images.js';
import { lanAddress } from '../helpers/network.js';
import { ADMIN_KEY, ApiClient, startTestServer, tempDir } from '../helpers/server.js';

// Short waits so the suite stays fast; the logic is the same as with the defaults.
const TIMING = { stabilityMs: 300, pollIntervalMs: 100, retryMs: 300 };
// For the slow writers: a pause between two pieces stays far below the window even on a busy machine.
const WRITE_TIMING = { ...TIMING, stabilityMs: 1000 };
const WRITE_PAUSE_MS = 100;

const dirs: string[] = [];
const running: RunningServer[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
});
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

function dir(prefix: string) {
  const d = tempDir(prefix);
  dirs.push(d);
  return d;
}

async function start(dataDir: string, watch: string[] = [], timing = TIMING, host?: string) {
  const { server, admin } = await startTestServer({ dataDir, config: { watch, ...(host ? { host } : {}) }, start: { watchTiming: timing } });
  running.push(server);
  return { server, admin };
}

async function stop(server: RunningServer) {
  running.splice(running.indexOf(server), 1);
  await server.close();
}

interface FolderStatus {
  id: string;
  path: string;
  source: string;
  mode: string;
  pollingReason: string | null;
  state: string;
  error: string | null;
  counts: { ingested: number; rejected: number; pending: number };
  lastIngestedAt: string | null;
}

async function folders(admin: ApiClient): Promise<FolderStatus[]> {
  const res = await admin.json('GET', '/v1/watch');
  expect(res.status).toBe(200);
  return res.body.items;
}

async function images(admin: ApiClient): Promise<Array<{ id: string; filename: string; sha256: string; bytes: number; customer: string; status: string }>> {
  return (await admin.json('GET', '/v1/images?limit=500')).body.items;
}

/** Waits until the folder shows these counts and nothing pending, then a little longer to see nothing else arrives. */
async function settled(admin: ApiClient, folder: string, counts: { ingested: number; rejected: number }) {
  const status = await eventually(
    async () => {
      const f = (await folders(admin)).find((x) => x.path === folder);
      return f && f.state === 'watching' && f.counts.pending === 0 && f.counts.ingested === counts.ingested && f.counts.rejected === counts.rejected ? f : undefined;
    },
    20_000,
    `counts ${JSON.stringify(counts)} for ${folder}`,
  );
  await new Promise((r) => setTimeout(r, TIMING.stabilityMs * 2));
  const again = (await folders(admin)).find((x) => x.path === folder)!;
  expect(again.counts).toEqual({ ...counts, pending: 0 });
  return status;
}


/** A JPEG of a few hundred KB that does not compress away, so writing it takes several chunks. */
async function noisyJpeg(width = 600, height = 400): Promise<Buffer> {
  const raw = crypto.randomBytes(width * height * 3);
  return sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 95 }).toBuffer();
}

describe('watch folders', () => {
  it('ingests files already there and files that appear, recursively; skips hidden and temp files; leaves originals', async () => {
    const watched = dir('darkroom-watch-');
    const dataDir = dir('darkroom-data-');
    const before = await solid(50, 40, 'jpeg', '#aa0000');
    fs.writeFileSync(path.join(watched, 'before.jpg'), before);

    const { admin } = await start(dataDir, [watched]);
    await settled(admin, watched, { ingested: 1, rejected: 0 });

    const nested = await solid(30, 30, 'png', '#00aa00');
    fs.mkdirSync(path.join(watched, '2024', 'june'), { recursive: true });
    fs.writeFileSync(path.join(watched, '2024', 'june', 'nested.png'), nested);
    // Never taken: hidden files and folders, temp files of downloads and copies.
    fs.writeFileSync(path.join(watched, '.secret.jpg'), before);
    fs.mkdirSync(path.join(watched, '.cache'));
    fs.writeFileSync(path.join(watched, '.cache', 'thumb.jpg'), before);
    fs.writeFileSync(path.join(watched, 'download.jpg.crdownload'), before);
    fs.writeFileSync(path.join(watched, 'copy.png.part'), nested);
    fs.writeFileSync(path.join(watched, '~$report.docx'), 'lock');
    // Taken, judged by content, and refused: a text file.
    fs.writeFileSync(path.join(watched, 'notes.jpg'), 'not an image at all');

    const status = await settled(admin, watched, { ingested: 2, rejected: 1 });
    expect(status).toMatchObject({ source: 'flag', mode: 'events', pollingReason: null, error: null });
    expect(status.lastIngestedAt).not.toBeNull();

    const list = await images(admin);
    expect(list.map((i) => i.filename).sort()).toEqual(['before.jpg', 'nested.png']);
    expect(list.every((i) => i.customer === 'local')).toBe(true);
    expect(list.map((i) => i.sha256).sort()).toEqual([sha256(before), sha256(nested)].sort());
    for (const image of list) expect((await admin.waitFor(image.id)).status).toBe('done');
    // The originals stay where they are.
    expect(fs.readFileSync(path.join(watched, 'before.jpg')).equals(before)).toBe(true);
    expect(fs.existsSync(path.join(watched, '2024', 'june', 'nested.png'))).toBe(true);
  });

  it('waits until a file is completely written before taking it', async () => {
    const watched = dir('darkroom-watch-');
    const { admin } = await start(dir('darkroom-data-'), [watched], WRITE_TIMING);
    await settled(admin, watched, { ingested: 0, rejected: 0 });

    const jpeg = await noisyJpeg();
    const file = path.join(watched, 'slow.jpg');
    const out = fs.openSync(file, 'w');
    // Written in pieces over longer than the stability window, pausing much less than it.
    const pieces = 12;
    const step = Math.ceil(jpeg.length / pieces);
    for (let i = 0; i < pieces; i++) {
      fs.writeSync(out, jpeg.subarray(i * step, (i + 1) * step));
      await new Promise((r) => setTimeout(r, WRITE_PAUSE_MS));
    }
    fs.closeSync(out);

    await settled(admin, watched, { ingested: 1, rejected: 0 });
    // One image, of the whole file: no early copy of a half-written one.
    const all = await images(admin);
    expect(all.map((i) => i.bytes)).toEqual([jpeg.length]);
    const [image] = all;
    expect(image!.sha256).toBe(sha256(jpeg));
    expect((await admin.waitFor(image!.id)).status).toBe('done');
  });

  it('also waits for a file that is being written while the server starts', async () => {
    const watched = dir('darkroom-watch-');
    const jpeg = await noisyJpeg(500, 500);
    const out = fs.openSync(path.join(watched, 'copying.jpg'), 'w');
    const pieces = 12;
    const step = Math.ceil(jpeg.length / pieces);
    const writing = (async () => {
      for (let i = 0; i < pieces; i++) {
        fs.writeSync(out, jpeg.subarray(i * step, (i + 1) * step));
        await new Promise((r) => setTimeout(r, WRITE_PAUSE_MS));
      }
      fs.closeSync(out);
    })();
    // The first scan finds the file half written.
    await new Promise((r) => setTimeout(r, WRITE_PAUSE_MS * 2));
    const { admin } = await start(dir('darkroom-data-'), [watched], WRITE_TIMING);
    await writing;
    await settled(admin, watched, { ingested: 1, rejected: 0 });
    const all = await images(admin);
    expect(all.map((i) => i.sha256)).toEqual([sha256(jpeg)]);
  });

  it('takes each file once across restarts, also when renamed or touched while stopped', async () => {
    const watched = dir('darkroom-watch-');
    const dataDir = dir('darkroom-data-');
    fs.writeFileSync(path.join(watched, 'one.jpg'), await solid(20, 20, 'jpeg', '#111111'));
    fs.writeFileSync(path.join(watched, 'two.png'), await solid(20, 20, 'png', '#222222'));
    fs.writeFileSync(path.join(watched, 'bad.jpg'), 'text');

    const first = await start(dataDir, [watched]);
    await settled(first.admin, watched, { ingested: 2, rejected: 1 });
    const ids = (await images(first.admin)).map((i) => i.id).sort();
    await stop(first.server);

    // While stopped: one file renamed, one touched, the refused one left alone, one new file.
    fs.renameSync(path.join(watched, 'two.png'), path.join(watched, 'two-renamed.png'));
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(path.join(watched, 'one.jpg'), later, later);
    const fresh = await solid(20, 20, 'webp', '#333333');
    fs.writeFileSync(path.join(watched, 'three.webp'), fresh);

    const second = await start(dataDir, [watched]);
    await settled(second.admin, watched, { ingested: 4, rejected: 1 });
    const after = await images(second.admin);
    expect(after).toHaveLength(3);
    expect(after.map((i) => i.id).filter((id) => !ids.includes(id))).toHaveLength(1);
    expect(after.find((i) => !ids.includes(i.id))!.sha256).toBe(sha256(fresh));
    await stop(second.server);

    // A third start with nothing new: nothing happens.
    const third = await start(dataDir, [watched]);
    await settled(third.admin, watched, { ingested: 4, rejected: 1 });
    expect(await images(third.admin)).toHaveLength(3);
  });

  it('never follows a symlink out of the folder and never takes its own data folder inside it', async () => {
    const watched = dir('darkroom-watch-');
    const outside = dir('darkroom-outside-');
    fs.writeFileSync(path.join(outside, 'private.png'), await solid(10, 10, 'png', '#999999'));
    fs.symlinkSync(path.join(outside, 'private.png'), path.join(watched, 'link.png'));
    fs.symlinkSync(outside, path.join(watched, 'linked-folder'));
    // The data dir lives inside the watched folder: its originals must not come back as new images.
    const dataDir = path.join(watched, 'library');
    fs.writeFileSync(path.join(watched, 'photo.jpg'), await solid(16, 16, 'jpeg', '#123456'));

    const { admin, server } = await start(dataDir, [watched]);
    const status = await eventually(
      async () => {
        const f = (await folders(admin))[0]!;
        return f.counts.ingested === 1 && f.counts.pending === 0 ? f : undefined;
      },
      20_000,
      'the photo',
    );
    const [image] = await images(admin);
    expect((await admin.waitFor(image!.id)).status).toBe('done');
    await new Promise((r) => setTimeout(r, TIMING.stabilityMs * 4));
    expect(await images(admin)).toHaveLength(1);
    expect(status.counts.ingested).toBe(1);
    // The link pointing outside was seen and refused, not followed.
    const final = (await folders(admin))[0]!;
    expect(final.counts.ingested).toBe(1);
    expect(final.counts.rejected).toBe(1);
    const refused = server.parts.db.prepare(`SELECT path, error_code FROM watch_files WHERE outcome = 'rejected'`).all();
    expect(refused).toEqual([{ path: path.join(watched, 'link.png'), error_code: 'invalid_request' }]);
  });

  it('waits for a folder that does not exist yet (a share mounted late)', async () => {
    const parent = dir('darkroom-watch-');
    const watched = path.join(parent, 'not-yet');
    const { admin } = await start(dir('darkroom-data-'), [watched]);
    const missing = await eventually(async () => (await folders(admin)).find((f) => f.state === 'unavailable'), 20_000, 'the folder reported missing');
    expect(missing).toMatchObject({ path: watched, state: 'unavailable', error: 'the folder does not exist' });

    fs.mkdirSync(watched);
    fs.writeFileSync(path.join(watched, 'late.png'), await solid(12, 12, 'png'));
    await settled(admin, watched, { ingested: 1, rejected: 0 });
  });

  it('adds and removes folders from settings, polling when asked, and keeps them across restarts', async () => {
    const dataDir = dir('darkroom-data-');
    const flagged = dir('darkroom-watch-');
    const share = dir('darkroom-share-');
    const first = await start(dataDir, [flagged]);
    const { admin } = first;

    const added = await admin.json('POST', '/v1/watch', { path: share, poll: true });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ path: share, source: 'settings', mode: 'polling', pollingReason: 'asked for in settings' });
    expect(added.headers.get('location')).toBe(`/v1/watch/${added.body.id}`);
    expect((await admin.json('POST', '/v1/watch', { path: share })).status).toBe(200);

    fs.writeFileSync(path.join(share, 'polled.jpg'), await solid(22, 22, 'jpeg'));
    await settled(admin, share, { ingested: 1, rejected: 0 });
    expect((await admin.json('GET', `/v1/watch/${added.body.id}`)).body.counts.ingested).toBe(1);

    // Refusals: not a folder, missing, the data dir, a --watch folder, a non-admin, unknown id.
    const file = path.join(share, 'polled.jpg');
    expect((await admin.json('POST', '/v1/watch', { path: file })).body.error.message).toMatch(/not a folder/);
    expect((await admin.json('POST', '/v1/watch', { path: path.join(share, 'nope') })).status).toBe(400);
    expect((await admin.json('POST', '/v1/watch', { path: 'relative/dir' })).status).toBe(400);
    expect((await admin.json('POST', '/v1/watch', { path: path.join(dataDir, 'originals') })).body.error.message).toMatch(/own data folder/);
    const flaggedId = (await folders(admin)).find((f) => f.path === flagged)!.id;
    expect((await admin.json('DELETE', `/v1/watch/${flaggedId}`)).body.error.message).toMatch(/--watch/);
    expect((await admin.json('DELETE', '/v1/watch/0000000000000000')).status).toBe(404);
    const user = new ApiClient(first.server.url, (await admin.json('POST', '/v1/keys', { customer: 'w', role: 'user' })).body.key);
    expect((await user.json('GET', '/v1/watch')).status).toBe(403);
    expect((await user.json('POST', '/v1/watch', { path: share })).status).toBe(403);
    const lan = lanAddress();
    await stop(first.server);

    // After a restart the folder from settings is still watched, and what it took is not taken again.
    const { server: second } = await start(dataDir, [flagged], TIMING, '0.0.0.0');
    const local = new ApiClient(second.url.replace('0.0.0.0', '127.0.0.1'), ADMIN_KEY);
    await settled(local, share, { ingested: 1, rejected: 0 });
    expect((await folders(local)).map((f) => [f.path, f.source])).toEqual([
      [flagged, 'flag'],
      [share, 'settings'],
    ]);
    // From another machine, the list is readable but changes are refused.
    const remote = new ApiClient(`http://${lan}:${second.port}`, ADMIN_KEY);
    expect((await remote.json('GET', '/v1/watch')).status).toBe(200);
    expect((await remote.json('DELETE', `/v1/watch/${added.body.id}`)).status).toBe(403);

    expect((await local.json('DELETE', `/v1/watch/${added.body.id}`)).status).toBe(204);
    expect((await folders(local)).map((f) => f.path)).toEqual([flagged]);
    fs.writeFileSync(path.join(share, 'after-removal.png'), await solid(9, 9, 'png'));
    await new Promise((r) => setTimeout(r, TIMING.stabilityMs * 3));
    expect(await images(local)).toHaveLength(1);
  });

  it('refuses system folders, the data folder and unusable paths with 400, never 500', async () => {
    const dataDir = dir('darkroom-watch-data-');
    const { admin } = await start(dataDir);
    const outside = dir('darkroom-watch-links-');
    const linkToEtc = path.join(outside, 'etc-link');
    fs.symlinkSync('/etc', linkToEtc);
    const aFile = path.join(outside, 'file.txt');
    fs.writeFileSync(aFile, 'not a folder');

    const refusals: Array<[string, RegExp]> = [
      ['/', /root of the filesystem/],
      ['/proc', /system folder \(\/proc\)/],
      ['/sys/kernel', /system folder \(\/sys\)/],
      ['/dev', /system folder/],
      ['/run/user', /system folder \(\/run\)/],
      ['/boot', /system folder/],
      ['/etc/ssl', /system folder \(\/etc\)/],
      [dataDir, /own data folder/],
      [path.join(dataDir, 'originals'), /own data folder/],
      [linkToEtc, /leads to a folder that is a system folder/],
      [aFile, /not a folder/],
      [path.join(outside, 'x'.repeat(300)), /too long/],
      [path.join(outside, 'missing'), /does not exist/],
      ['relative/dir', /not an absolute path/],
    ];
    for (const [folder, reason] of refusals) {
      const res = await admin.json('POST', '/v1/watch', { path: folder });
      expect({ folder, status: res.status, code: res.body.error?.code }).toEqual({ folder, status: 400, code: 'invalid_request' });
      expect(res.body.error.message).toMatch(reason);
    }
    expect(await folders(admin)).toEqual([]);
    // An over-long string is refused by the body's own limit, in the same form.
    const huge = await admin.json('POST', '/v1/watch', { path: `/${'a'.repeat(5000)}` });
    expect([huge.status, huge.body.error.code]).toEqual([400, 'invalid_request']);
  });

  it('refuses a system folder given with --watch at start-up, in one line', async () => {
    const { parseConfig } = await import('../../server/config.js');
    expect(() => parseConfig({ dataDir: dir('darkroom-watch-flag-'), watch: ['/proc'] })).toThrow(
      'invalid --watch: /proc is a system folder (/proc); watch a folder of your own',
    );
    const dataDir = dir('darkroom-watch-flag-');
    expect(() => parseConfig({ dataDir, watch: [path.join(dataDir, 'originals')] })).toThrow(/own data folder/);
  });
});
