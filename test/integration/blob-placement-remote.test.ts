/**
 * The rules that keep a bucket's deletes right across crashes and nodes (services/blob-placement.ts,
 * services/blob-janitor.ts), with a real SQLite database and a real s3rver bucket: two placements
 * over one database and one bucket stand for two nodes.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBlobPlacement } from '../../server/services/blob-placement.js';
import { blobKeys } from '../../server/storage/blob-store.js';
import { createS3Bucket } from '../../server/storage/s3/bucket.js';
import { createS3PrimaryStore } from '../../server/storage/s3/s3-primary-store.js';
import { createManualClock } from '../../server/util/clock.js';
import { openTestSqlite } from '../helpers/database.js';
import { eventually } from '../helpers/eventually.js';
import { startS3rver, type S3rver } from '../helpers/s3rver.js';
import { tempDirs } from '../helpers/server.js';

const tempDir = tempDirs('darkroom-placement-');
let s3: S3rver;
let prefixes = 0;
beforeAll(async () => {
  s3 = await startS3rver('placement');
});
afterAll(async () => {
  await s3?.close();
});

function cluster() {
  const database = openTestSqlite();
  const clock = createManualClock(1_000_000);
  const prefix = `p${++prefixes}`;
  const node = () => {
    const bucket = createS3Bucket({ bucket: s3.bucket, prefix, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true });
    const store = createS3PrimaryStore(bucket, { stagingDir: tempDir(), partSize: 64 * 1024 });
    store.init();
    const placement = createBlobPlacement({ store, database, clock });
    const janitor = placement.janitor;
    if (!janitor) throw new Error('expected a remote placement, with its janitor');
    return { store, placement, janitor };
  };
  const has = async (key: string) => (await s3.objects(`${prefix}/${key}`)).has(`${prefix}/${key}`);
  return { database, clock, node, has };
}

function staged(store: { stagingPath(): string }, bytes = crypto.randomBytes(200_000)) {
  const file = store.stagingPath();
  fs.writeFileSync(file, bytes);
  const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
  return { file, key: blobKeys.original(sha256), sha256, bytes };
}

const image = (id: string, sha256: string) => ({ id, customer: 'c', filename: 'f.jpg', bytes: 1, sha256, format: 'jpeg', width: 1, height: 1, pages: 1, source: 'upload', created_at: 1 });

describe('a bucket as the primary store: deletes across nodes and crashes', () => {
  it('an upload recorded while a delete of the same bytes waits keeps the object (the delete is dropped)', async () => {
    const c = cluster();
    const a = c.node();
    const b = c.node();
    const first = staged(a.store);
    const prepared = await a.placement.prepare([first]);
    await c.database.unitOfWork(async (repos) => {
      await a.placement.place(prepared, repos);
      await repos.images.insert(image('0190a0b0-0000-7000-8000-000000000001', first.sha256), []);
    });
    // Node A deletes the image: the original's delete is journalled, not yet carried out.
    await c.database.unitOfWork(async (repos) => {
      await repos.images.delete('0190a0b0-0000-7000-8000-000000000001');
      await a.placement.remove(first.key, repos);
    });
    // Node B uploads the same bytes meanwhile: its intent keeps the janitor off the key...
    const again = staged(b.store, first.bytes);
    const preparedAgain = await b.placement.prepare([again]);
    a.janitor.kick();
    await a.janitor.idle();
    expect(await c.has(first.key)).toBe(true);
    // ...and once B records it, the delete finds it used and is dropped.
    await c.database.unitOfWork(async (repos) => {
      await b.placement.place(preparedAgain, repos);
      await repos.images.insert(image('0190a0b0-0000-7000-8000-000000000002', again.sha256), []);
    });
    a.janitor.kick();
    await a.janitor.idle();
    expect(await c.has(first.key)).toBe(true);
    expect(await c.database.repos.blobDeletes.nextDueAt()).toBeUndefined();
  });

  it('an upload waits while another node is deleting the same key, then writes it again', async () => {
    const c = cluster();
    const a = c.node();
    const b = c.node();
    const blob = staged(a.store);
    await a.store.upload(blob.file, blob.key, { sha256: blob.sha256 });
    // Node A has claimed the delete (its DELETE is on its way).
    await c.database.repos.blobDeletes.schedule({ id: 'd', key: blob.key, dueAt: c.clock.now() });
    expect(await c.database.repos.blobDeletes.claim('d', c.clock.now() + 30_000, c.clock.now())).toBe(true);
    const again = staged(b.store, blob.bytes);
    let prepared = false;
    const uploading = b.placement.prepare([again]).then((p) => ((prepared = true), p));
    await new Promise((r) => setTimeout(r, 600));
    expect(prepared).toBe(false);
    // A's DELETE lands, then its row goes: B goes on, finds the key empty and writes it.
    await a.store.delete(blob.key);
    await c.database.repos.blobDeletes.remove('d');
    const p = await uploading;
    expect(await c.has(blob.key)).toBe(true);
    await c.database.unitOfWork((repos) => b.placement.place(p, repos));
  });

  it('an upload never recorded (its node died) is removed once its intent falls due', async () => {
    const c = cluster();
    const a = c.node();
    const blob = staged(a.store);
    await a.placement.prepare([blob]);
    expect(await c.has(blob.key)).toBe(true);
    a.janitor.kick();
    await a.janitor.idle();
    expect(await c.has(blob.key)).toBe(true);
    c.clock.advance(7 * 3600 * 1000);
    a.janitor.kick();
    await eventually(async () => !(await c.has(blob.key)), 10_000, 'orphan removed');
    await a.janitor.stop();
  });

  it('a full batch of deletes that all have to wait (their keys being written) ends the run, and is carried out once they may be', async () => {
    const c = cluster();
    const a = c.node();
    const now = c.clock.now();
    const keys = Array.from({ length: 120 }, (_, i) => blobKeys.original(crypto.createHash('sha256').update(String(i)).digest('hex')));
    await c.database.unitOfWork(async (repos) => {
      for (const [i, key] of keys.entries()) {
        await repos.blobDeletes.schedule({ id: `delete-${i}`, key, dueAt: now });
        await repos.blobDeletes.schedule({ id: `intent-${i}`, key, dueAt: now + 60_000 });
      }
    });
    a.janitor.kick();
    // Ends (does not fetch the same waiting rows for ever), leaving every row.
    await Promise.race([a.janitor.idle(), new Promise((_, reject) => setTimeout(() => reject(new Error('the janitor kept running')), 5_000))]);
    expect(await c.database.repos.blobDeletes.due(now, 1_000)).toHaveLength(120);
    // The uploads gave up (their intents fell due): everything goes, nothing being used.
    c.clock.advance(60_000);
    a.janitor.kick();
    await eventually(async () => (await c.database.repos.blobDeletes.nextDueAt()) === undefined, 20_000, 'journal empty');
    await a.janitor.stop();
  });

  it('an upload whose bytes do not hash to its key stores nothing', async () => {
    const c = cluster();
    const a = c.node();
    const blob = staged(a.store);
    const wrong = { ...blob, key: blobKeys.original('0'.repeat(64)), sha256: '0'.repeat(64) };
    await expect(a.placement.prepare([wrong])).rejects.toThrow(/hash to/);
    expect(await c.has(wrong.key)).toBe(false);
    expect(fs.existsSync(blob.file)).toBe(false);
  });
});
