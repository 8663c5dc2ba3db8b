import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { solid } from '../helpers/images.js';
import { listFiles, startTestServer, type ApiClient, type TestServer } from '../helpers/server.js';
import { TusClient } from '../helpers/tus.js';

let t: TestServer;
let user: ApiClient;

beforeAll(async () => {
  t = await startTestServer();
  user = await t.client('user', 'patient');
});
afterAll(() => t.close());

const imageCount = () => (t.server.parts.db.prepare('SELECT count(*) AS n FROM images').get() as { n: number }).n;

/** What an upload may leave behind: nothing in tmp/, no original beyond those recorded. */
function leftovers() {
  return { tmp: listFiles(path.join(t.dataDir, 'tmp')), originals: listFiles(path.join(t.dataDir, 'originals')).length };
}

describe('when the database cannot be written', () => {
  it('answers 503 unavailable with Retry-After while another process holds the write lock, keeps reads working, and loses nothing', async () => {
    const accepted = await user.uploadRaw(await solid(40, 30, 'png', '#123456'), 'before.png', 'image/png');
    expect(accepted.status).toBe(202);
    await user.waitFor(accepted.body.id);
    const before = { images: imageCount(), ...leftovers() };

    // Another process (a CLI command, a backup tool) holds the database's write lock.
    const other = new Database(path.join(t.dataDir, 'darkroom.db'));
    other.exec('BEGIN IMMEDIATE');
    try {
      const refused = await user.uploadRaw(await solid(41, 31, 'png', '#654321'), 'during.png', 'image/png');
      expect(refused.status).toBe(503);
      expect(refused.body.error.code).toBe('unavailable');
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      const keys = await t.admin.json('POST', '/v1/keys', { customer: 'later', role: 'user' });
      expect([keys.status, keys.body.error.code]).toEqual([503, 'unavailable']);

      // Readers are not blocked by a writer (WAL): the library and records still answer.
      expect((await user.json('GET', '/v1/images')).status).toBe(200);
      expect((await user.json('GET', `/v1/image/${accepted.body.id}`)).status).toBe(200);
      expect({ images: imageCount(), ...leftovers() }).toEqual(before);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }

    const after = await user.uploadRaw(await solid(41, 31, 'png', '#654321'), 'after.png', 'image/png');
    expect(after.status).toBe(202);
    expect((await user.waitFor(after.body.id)).status).toBe('done');
  });

  it('answers 503 unavailable for an I/O error underneath, with nothing left of the upload', async () => {
    const before = { images: imageCount(), ...leftovers() };
    // Fault injection: the disk fails while the upload's row is written (by the unit of work's
    // images repository, which group commit records with).
    const { database } = t.server.parts;
    const unitOfWork = database.unitOfWork;
    database.unitOfWork = <T>(work: Parameters<typeof unitOfWork<T>>[0], options?: Parameters<typeof unitOfWork<T>>[1]) =>
      unitOfWork.call<typeof database, Parameters<typeof unitOfWork<T>>, Promise<T>>(
        database,
        (repos, unit) =>
          work(
            {
              ...repos,
              images: {
                ...repos.images,
                insert: () => Promise.reject(new Database.SqliteError('disk I/O error', 'SQLITE_IOERR_WRITE')),
              },
            },
            unit,
          ),
        options,
      );
    try {
      const refused = await user.uploadRaw(await solid(42, 32, 'png', '#abcdef'), 'ioerr.png', 'image/png');
      expect([refused.status, refused.body.error.code]).toEqual([503, 'unavailable']);
      expect(refused.body.error.message).toMatch(/SQLITE_IOERR_WRITE/);
      expect(refused.headers.get('retry-after')).toBeTruthy();
    } finally {
      database.unitOfWork = unitOfWork;
    }
    expect({ images: imageCount(), ...leftovers() }).toEqual(before);
    expect(fs.existsSync(t.dataDir)).toBe(true);
    expect((await user.json('GET', '/v1/images')).status).toBe(200);
  });

  it('keeps a complete tus upload when finishing it meets a busy database: 503 with Retry-After, then finished by the next HEAD, for its own customer', async () => {
    const tus = new TusClient(user);
    const png = await solid(43, 33, 'png', '#0a0b0c');
    const { location } = await tus.create(png.length, { filename: 'later.png' });
    const uploadFile = path.join(t.dataDir, 'uploads', location!.split('/').pop()!);
    const other = new Database(path.join(t.dataDir, 'darkroom.db'));
    other.exec('BEGIN IMMEDIATE');
    let refused;
    try {
      refused = await tus.patch(location!, 0, png);
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect([refused.status, refused.body.error.code]).toEqual([503, 'unavailable']);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    // Every byte is still there, to be finished later.
    expect(fs.statSync(uploadFile).size).toBe(png.length);

    // An admin looking at it finishes it, but the image is the uploader's customer's.
    const head = await new TusClient(t.admin).head(location!);
    expect(head.status).toBe(200);
    const imageId = head.headers.get('darkroom-image-id')!;
    const record = await user.waitFor(imageId);
    expect([record.customer, record.status]).toEqual(['patient', 'done']);
    expect((await user.download(imageId, 'original')).body.equals(png)).toBe(true);
    // The upload's own copy of the bytes is gone; the original is the image's.
    expect(fs.existsSync(uploadFile)).toBe(false);
    expect(leftovers().tmp).toEqual([]);
  });
});
