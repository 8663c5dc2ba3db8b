import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '../helpers/hash.js';
import { jpegWithExif, pngBomb, solid } from '../helpers/images.js';
import { lanAddress } from '../helpers/network.js';
import { ADMIN_KEY, ApiClient, listFiles, startTestServer, tempDir, type TestServer } from '../helpers/server.js';

let t: TestServer;
let photos: string;
const dirs: string[] = [];

beforeAll(async () => {
  // On every interface, so the same server can be reached from a non-loopback address too.
  t = await startTestServer({ config: { host: '0.0.0.0', maxUploadBytes: '3MB' } });
  photos = tempDir('darkroom-photos-');
  dirs.push(photos);
});
afterAll(async () => {
  await t.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

const importPaths = (client: ApiClient, paths: unknown, extra: Record<string, unknown> = {}) =>
  client.json('POST', '/v1/image/import', { paths, ...extra });

function write(name: string, data: Buffer | string, dir = photos): string {
  const file = path.join(dir, name);
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, data);
  return file;
}

function imageCount(): number {
  return (t.server.parts.db.prepare('SELECT count(*) AS n FROM images').get() as { n: number }).n;
}

/** A refused import leaves nothing behind and the server keeps serving. */
async function expectNothingNew(before: number) {
  expect(imageCount()).toBe(before);
  expect(listFiles(path.join(t.dataDir, 'tmp'))).toEqual([]);
  expect((await fetch(`${t.url}/healthz`)).status).toBe(200);
}

describe('POST /v1/image/import', () => {
  it('ingests local files by path like an upload, leaving the originals where they are', async () => {
    const jpeg = await jpegWithExif();
    const file = write('holiday/beach.jpg', jpeg);
    const res = await importPaths(t.admin, [file]);
    expect(res.status).toBe(202);
    expect(res.headers.get('location')).toBe(`/v1/image/${res.body.id}`);
    expect(res.body).toMatchObject({ filename: 'beach.jpg', bytes: jpeg.length, sha256: sha256(jpeg), format: 'jpeg', status: 'queued' });
    expect(res.body.customer).toBe('local');

    const done = await t.admin.waitFor(res.body.id);
    expect(done.status).toBe('done');
    expect((await t.admin.download(res.body.id, 'original')).body.equals(jpeg)).toBe(true);
    expect((await t.admin.download(res.body.id, 'thumb')).status).toBe(200);
    expect(fs.readFileSync(file).equals(jpeg)).toBe(true);

    // Several paths answer with an array, and take `variants` like an upload.
    const png = write('a.png', await solid(64, 48, 'png'));
    const webp = write('b.webp', await solid(40, 40, 'webp'));
    const many = await importPaths(t.admin, [png, webp], { variants: [{ name: 'small', width: 16, format: 'jpeg' }] });
    expect(many.status).toBe(202);
    expect(many.body.map((r: { filename: string }) => r.filename)).toEqual(['a.png', 'b.webp']);
    expect(many.body[0].variants.map((v: { name: string }) => v.name)).toEqual(['small']);
    for (const record of many.body) expect((await t.admin.waitFor(record.id)).status).toBe('done');
  });

  it('answers 401 without a key and 403 to every role but admin', async () => {
    const file = write('roles.png', await solid(8, 8, 'png'));
    const before = imageCount();
    expect((await importPaths(new ApiClient(t.url, undefined), [file])).status).toBe(401);
    for (const role of ['user', 'business'] as const) {
      const client = await t.client(role, `import-${role}`);
      const res = await importPaths(client, [file]);
      expect(res.status).toBe(403);
      expect(res.body.error.code).toBe('forbidden');
    }
    await expectNothingNew(before);
  });

  it('answers 403 to an admin key from another machine, whatever the headers claim', async () => {
    const file = write('remote.png', await solid(8, 8, 'png'));
    const before = imageCount();
    const remote = new ApiClient(`http://${lanAddress()}:${t.server.port}`, ADMIN_KEY);
    const res = await remote.request('POST', '/v1/image/import', {
      body: JSON.stringify({ paths: [file] }),
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '127.0.0.1', host: '127.0.0.1' },
    });
    expect(res.status).toBe(403);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('forbidden');
    expect(body.error.message).toContain('loopback');
    // The same key from this machine's other address still works for everything else.
    expect((await remote.json('GET', '/v1/images')).status).toBe(200);
    await expectNothingNew(before);
  });

  it('refuses bad paths and bad bodies with 400, naming the path', async () => {
    const before = imageCount();
    const cases: Array<[unknown, RegExp]> = [
      [['photo.jpg'], /not an absolute path/],
      [[path.join(photos, 'nope.jpg')], /does not exist/],
      [[`${photos}/../${path.basename(photos)}/a.png`], /"\." or "\.\." segments/],
      [[path.join(photos, 'a.png\u0000.txt')], /not a usable path/],
      [[path.join(photos, 'a.png', 'inside')], /does not exist/],
      [[], /at least one path/],
      [[42], /paths/],
      ['/etc/hostname', /paths/],
    ];
    for (const [paths, message] of cases) {
      const res = await importPaths(t.admin, paths);
      expect(res.status, JSON.stringify(paths)).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
      expect(res.body.error.message).toMatch(message);
    }
    const noBody = await t.admin.request('POST', '/v1/image/import', { body: '{"paths": [', headers: { 'content-type': 'application/json' } });
    expect(noBody.status).toBe(400);
    const unknownField = await importPaths(t.admin, [path.join(photos, 'a.png')], { recursive: true });
    expect(unknownField.status).toBe(400);
    await expectNothingNew(before);
  });

  it('refuses directories and other files that are not regular files', async () => {
    const before = imageCount();
    const dir = await importPaths(t.admin, [path.join(photos, 'holiday')]);
    expect(dir.status).toBe(400);
    expect(dir.body.error.message).toMatch(/is a directory/);

    const fifo = path.join(photos, 'pipe.jpg');
    execFileSync('mkfifo', [fifo]);
    const res = await importPaths(t.admin, [fifo]);
    expect(res.status).toBe(400);
    expect(res.body.error.message).toMatch(/not a regular file/);

    expect((await importPaths(t.admin, ['/dev/zero'])).status).toBe(400);
    await expectNothingNew(before);
  });

  it('judges images by their bytes: a text file named .jpg is 415, a bomb 422, a large file 413', async () => {
    const before = imageCount();
    const text = await importPaths(t.admin, [write('notes.jpg', 'Dear diary, '.repeat(500))]);
    expect(text.status).toBe(415);
    expect(text.body.error.code).toBe('unsupported_media_type');
    expect(text.body.error.message).toContain('notes.jpg');

    const bomb = await importPaths(t.admin, [write('bomb.png', pngBomb(60000, 60000))]);
    expect(bomb.status).toBe(422);
    expect(bomb.body.error.code).toBe('pixel_limit_exceeded');

    const big = await importPaths(t.admin, [write('big.png', crypto.randomBytes(4_000_000))]);
    expect(big.status).toBe(413);

    // One bad file refuses the whole request: the good one is not taken either.
    const good = write('good.png', await solid(10, 10, 'png'));
    const mixed = await importPaths(t.admin, [good, path.join(photos, 'notes.jpg')]);
    expect(mixed.status).toBe(415);
    await expectNothingNew(before);
  });

  it('takes a large uncompressed TIFF whose directory sits at the end of the file', async () => {
    // libvips (and many scanners) write the image data first: the first chunks read hold only
    // the TIFF signature, not the directory a content sniffer would follow.
    const tiff = await sharp({ create: { width: 800, height: 800, channels: 3, background: '#336699' } }).tiff({ compression: 'none' }).toBuffer();
    expect(tiff.readUInt32LE(4)).toBeGreaterThan(1024 * 1024 + 4100);
    const res = await importPaths(t.admin, [write('scan.tif', tiff)]);
    expect(res.status).toBe(202);
    expect(res.body.format).toBe('tiff');
    expect((await t.admin.waitFor(res.body.id)).status).toBe('done');
  });

  it('follows a symlink only to a file inside its own folder, never out of it or into the data dir', async () => {
    const before = imageCount();
    const elsewhere = tempDir('darkroom-elsewhere-');
    dirs.push(elsewhere);
    const secret = write('secret.png', await solid(12, 12, 'png'), elsewhere);
    const album = path.join(photos, 'album');
    write('inside/real.png', await solid(14, 14, 'png'), album);

    fs.symlinkSync(secret, path.join(album, 'escape.png'));
    const escape = await importPaths(t.admin, [path.join(album, 'escape.png')]);
    expect(escape.status).toBe(400);
    expect(escape.body.error.message).toMatch(/symlink pointing outside its folder/);

    fs.symlinkSync(path.join(album, 'missing.png'), path.join(album, 'dangling.png'));
    const dangling = await importPaths(t.admin, [path.join(album, 'dangling.png')]);
    expect(dangling.status).toBe(400);
    expect(dangling.body.error.message).toMatch(/symlink to nothing/);

    // Darkroom's own files are never a source, directly or through a link.
    const db = path.join(t.dataDir, 'darkroom.db');
    expect((await importPaths(t.admin, [db])).body.error.message).toMatch(/own data folder/);
    fs.symlinkSync(t.dataDir, path.join(album, 'data'));
    expect((await importPaths(t.admin, [path.join(album, 'data', 'darkroom.db')])).status).toBe(400);
    await expectNothingNew(before);

    // Within bounds a symlink is fine: it names a file of the same folder.
    fs.symlinkSync(path.join(album, 'inside', 'real.png'), path.join(album, 'shortcut.png'));
    const ok = await importPaths(t.admin, [path.join(album, 'shortcut.png')]);
    expect(ok.status).toBe(202);
    expect(ok.body.filename).toBe('shortcut.png');
  });
});
