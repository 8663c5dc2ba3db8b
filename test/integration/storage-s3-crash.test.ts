import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnServer, type ChildServer } from '../helpers/child.js';
import { eventually } from '../helpers/eventually.js';
import { solid } from '../helpers/images.js';
import { startS3rver, type S3rver } from '../helpers/s3rver.js';
import { ADMIN_KEY, ApiClient, listFiles, tempDir } from '../helpers/server.js';
import { TusClient } from '../helpers/tus.js';
import { fixture } from '../helpers/images.js';
import { sha256 } from '../helpers/hash.js';

const PREFIX = 'crash';
const dataDir = tempDir('darkroom-s3-crash-');
let s3: S3rver;
let server: ChildServer | undefined;

beforeAll(async () => {
  s3 = await startS3rver();
});
afterAll(async () => {
  server?.proc.kill('SIGKILL');
  await s3?.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const start = () => spawnServer(['serve', '--data-dir', dataDir, '--port', '0', '--workers', '1', '--admin-key', ADMIN_KEY, '--storage', 's3', ...s3.flags(PREFIX)]);

const keys = async () => [...(await s3.objects(`${PREFIX}/`)).keys()].map((k) => k.slice(PREFIX.length + 1)).sort();

describe('--storage s3 across a crash', () => {
  it('a delete committed just before kill -9 is carried out after the restart: no orphan is left', { timeout: 120_000 }, async () => {
    server = await start();
    let client = new ApiClient(server.url, ADMIN_KEY);
    const res = await client.upload([{ name: 'gone.jpg', data: await solid(400, 300, 'jpeg', '#884422') }]);
    expect(res.status).toBe(202);
    const record = await client.waitFor(res.body.id);
    expect(record.status).toBe('done');
    const ofImage = (all: string[]) => all.filter((k) => k === `originals/${record.sha256}` || k.startsWith(`processed/${record.id}/`));
    expect(ofImage(await keys())).toHaveLength(3);

    // The bucket hangs: the delete's commit is answered, the objects cannot go yet.
    s3.pause();
    try {
      expect((await client.json('DELETE', `/v1/image/${record.id}`)).status).toBe(204);
      server.proc.kill('SIGKILL');
      expect(await server.exited).toBe('SIGKILL');
    } finally {
      s3.resume();
    }
    // The decision survived the crash, in the database: both deletes are journalled.
    const journal = new Database(path.join(dataDir, 'darkroom.db'), { readonly: true });
    try {
      const rows = journal.prepare('SELECT key FROM blob_deletes ORDER BY key').all() as Array<{ key: string }>;
      expect(rows.map((r) => r.key)).toEqual([`originals/${record.sha256}`, `processed/${record.id}/`]);
    } finally {
      journal.close();
    }

    server = await start();
    client = new ApiClient(server.url, ADMIN_KEY);
    // The dead process's claim on the delete runs out first (30 s: its request might still have
    // been on its way), then the new process carries it out.
    await eventually(async () => ofImage(await keys()).length === 0, 60_000, 'the deleted image\'s objects gone after the restart');
    expect((await client.json('GET', `/v1/image/${record.id}`)).status).toBe(404);
    await eventually(async () => {
      const db = new Database(path.join(dataDir, 'darkroom.db'), { readonly: true });
      try {
        return (db.prepare('SELECT count(*) AS n FROM blob_deletes').get() as { n: number }).n === 0;
      } finally {
        db.close();
      }
    }, 10_000, 'the journal emptied');
  });

  it('a tus upload begun before a crash is finished by the next process: its parts and record are in the bucket', async () => {
    let client = new ApiClient(server!.url, ADMIN_KEY);
    const data = fixture('ipx-bliss.jpg');
    let tus = new TusClient(client);
    const created = await tus.create(data.length, { filename: 'resumed.jpg' });
    expect(created.status).toBe(201);
    const half = Math.floor(data.length / 2);
    expect((await tus.patch(created.location!, 0, data.subarray(0, half))).status).toBe(204);
    const uploadId = created.location!.split('/').pop()!;
    expect(await keys()).toContain(`uploads/${uploadId}/record.json`);

    server!.proc.kill('SIGKILL');
    await server!.exited;
    server = await start();
    client = new ApiClient(server.url, ADMIN_KEY);
    tus = new TusClient(client);
    expect((await tus.head(created.location!)).offset).toBe(half);
    const last = await tus.patch(created.location!, half, data.subarray(half));
    expect(last.status).toBe(204);
    const done = await client.waitFor(last.headers.get('darkroom-image-id')!);
    expect(done).toMatchObject({ status: 'done', sha256: sha256(data) });
    expect(await keys()).toContain(`originals/${sha256(data)}`);
    // Staged files do not outlive their use; no originals or processed files in the data dir.
    expect(listFiles(dataDir).filter((f) => !f.startsWith('darkroom.'))).toEqual([]);
  });
});
