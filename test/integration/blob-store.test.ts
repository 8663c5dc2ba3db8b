import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { buffer, text } from 'node:stream/consumers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BlobChangedError,
  BlobIntegrityError,
  BlobStoreUnavailableError,
  BlobNotFoundError,
  InvalidBlobKeyError,
  blobKeys,
  parseBlobKey,
  type BlobStore,
  type OpenedBlob,
  type LocalPrimaryStore,
} from '../../server/storage/blob-store.js';
import { createFsBlobStore } from '../../server/storage/fs/fs-blob-store.js';
import { createFsUploadParts } from '../../server/storage/fs/fs-upload-parts.js';
import type { UploadPartStore } from '../../server/storage/upload-parts.js';
import { createS3Bucket } from '../../server/storage/s3/bucket.js';
import { createS3BlobStore } from '../../server/storage/s3/s3-blob-store.js';
import { createS3PrimaryStore } from '../../server/storage/s3/s3-primary-store.js';
import { createS3UploadParts } from '../../server/storage/s3/s3-upload-parts.js';
import { sha256 } from '../helpers/hash.js';
import { startS3rver, type S3rver } from '../helpers/s3rver.js';
import { tempDirs } from '../helpers/server.js';

const tempDir = tempDirs('darkroom-blob-store-');

let s3: S3rver;
let prefixes = 0;
beforeAll(async () => {
  s3 = await startS3rver('blob-store-contract');
});
afterAll(async () => {
  await s3?.close();
});

const fsStore = (): LocalPrimaryStore => {
  const store = createFsBlobStore(tempDir());
  store.init();
  return store;
};

/**
 * The blob store contract, written once and run against every adapter: what a use case may rely
 * on whichever store it is given. An adapter is added to `stores` (every store) and, if the use
 * cases may write to it, to `primaryStores`, with a factory for a fresh, empty store.
 */
const stores: Array<{ name: string; create(): Promise<BlobStore> }> = [
  { name: 'fs', create: async () => fsStore() },
  {
    name: 's3',
    async create() {
      // A fresh prefix of one bucket is a fresh, empty store; small parts exercise multipart.
      const bucket = createS3Bucket({ bucket: s3.bucket, prefix: `contract-${++prefixes}`, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true });
      return createS3BlobStore(bucket, { stagingDir: tempDir(), partSize: 64 * 1024 });
    },
  },
];
const primaryStores: Array<{ name: string; create(): Promise<LocalPrimaryStore> }> = [{ name: 'fs', create: async () => fsStore() }];

const ID = '0190a0b0-0000-7000-8000-000000000001';
const OTHER_ID = '0190a0b0-0000-7000-8000-000000000002';

async function collect(iterable: AsyncIterable<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const key of iterable) out.push(key);
  return out.sort();
}

/** Every byte an opened blob streams (the range of it, if given). */
async function bytesOf(blob: OpenedBlob, range?: { start: number; end: number }): Promise<Buffer> {
  return buffer(await blob.stream(range));
}

async function readAll(store: BlobStore, key: string, range?: { start: number; end: number }): Promise<Buffer> {
  const blob = await store.open(key);
  const bytes = await bytesOf(blob, range);
  await blob.close();
  return bytes;
}

describe.each(stores)('blob store contract: $name', ({ create }) => {
  it('put stores a stream and answers with its size and sha256; open reads it back whole', async () => {
    const store = await create();
    const data = crypto.randomBytes(300_000);
    const key = blobKeys.original(sha256(data));
    // Many small chunks: what an upload or a bucket body looks like.
    const chunks = Array.from({ length: 30 }, (_, i) => data.subarray(i * 10_000, (i + 1) * 10_000));
    expect(await store.put(key, Readable.from(chunks))).toEqual({ bytes: data.length, sha256: sha256(data) });
    expect((await readAll(store, key)).equals(data)).toBe(true);
    const stat = await store.stat(key);
    expect(stat?.size).toBe(data.length);
    expect(stat?.modifiedMs).toBeGreaterThan(Date.now() - 60_000);
  });

  it('put over an existing key replaces the blob', async () => {
    const store = await create();
    const key = blobKeys.processed(ID, 'display', 'webp');
    await store.put(key, Readable.from([Buffer.from('first version')]));
    await store.put(key, Readable.from([Buffer.from('second')]));
    expect((await readAll(store, key)).toString()).toBe('second');
    expect((await store.stat(key))?.size).toBe(6);
  });

  it('put with the expected sha256 refuses other bytes and stores nothing', async () => {
    const store = await create();
    const key = blobKeys.processed(ID, 'thumb', 'jpg');
    const promise = store.put(key, Readable.from([Buffer.from('these bytes')]), { sha256: sha256(Buffer.from('other bytes')) });
    await expect(promise).rejects.toBeInstanceOf(BlobIntegrityError);
    expect(await store.stat(key)).toBeUndefined();
    await expect(store.put(key, Readable.from([Buffer.from('these bytes')]), { sha256: sha256(Buffer.from('these bytes')) })).resolves.toEqual({
      bytes: 11,
      sha256: sha256(Buffer.from('these bytes')),
    });
  });

  it('open gives the size and mtime a download needs, and reads inclusive byte ranges', async () => {
    const store = await create();
    const data = Buffer.from('0123456789abcdefghij');
    const key = blobKeys.processed(ID, 'display', 'webp');
    await store.put(key, Readable.from([data]));
    const blob = await store.open(key);
    expect(blob.key).toBe(key);
    expect(blob.size).toBe(20);
    expect(blob.modifiedMs).toBeGreaterThan(0);
    await blob.close();
    await blob.close(); // twice is fine
    expect((await readAll(store, key, { start: 0, end: 0 })).toString()).toBe('0');
    expect((await readAll(store, key, { start: 5, end: 9 })).toString()).toBe('56789');
    expect((await readAll(store, key, { start: 15, end: 19 })).toString()).toBe('fghij');
  });

  it('an opened blob gives the bytes it was opened with, or fails: never other bytes', async () => {
    const store = await create();
    const key = blobKeys.processed(ID, 'display', 'webp');
    const data = crypto.randomBytes(200_000);
    await store.put(key, Readable.from([data]));
    const blob = await store.open(key);
    await store.put(key, Readable.from([Buffer.from('replaced')]));
    await bytesOf(blob).then(
      (bytes) => expect(bytes.equals(data)).toBe(true),
      (err: unknown) => expect(err).toBeInstanceOf(BlobChangedError),
    );
  });

  it('read fills a buffer from any position, as a multipart upload reads its parts', async () => {
    const store = await create();
    const key = blobKeys.processed(ID, 'display', 'webp');
    await store.put(key, Readable.from([Buffer.from('abcdefghij')]));
    const blob = await store.open(key);
    try {
      const buffer = Buffer.alloc(8, '.');
      expect(await blob.read(buffer, 2, 4, 6)).toEqual({ bytesRead: 4 });
      expect(buffer.toString()).toBe('..ghij..');
      expect((await blob.read(buffer, 0, 8, 10)).bytesRead).toBe(0); // at the end
    } finally {
      await blob.close();
    }
  });

  it('a missing key: open and localCopy throw BlobNotFoundError, stat is undefined, delete is a no-op', async () => {
    const store = await create();
    const key = blobKeys.original(sha256(Buffer.from('never stored')));
    await expect(store.open(key)).rejects.toBeInstanceOf(BlobNotFoundError);
    await expect(store.localCopy(key)).rejects.toBeInstanceOf(BlobNotFoundError);
    expect(await store.stat(key)).toBeUndefined();
    await store.delete(key);
    // A key whose image folder does not exist either.
    await expect(store.open(blobKeys.processed(OTHER_ID, 'thumb', 'jpg'))).rejects.toBeInstanceOf(BlobNotFoundError);
  });

  it('delete removes one blob', async () => {
    const store = await create();
    const a = blobKeys.processed(ID, 'display', 'webp');
    const b = blobKeys.processed(ID, 'thumb', 'jpg');
    for (const key of [a, b]) await store.put(key, Readable.from([Buffer.from(key)]));
    await store.delete(a);
    expect(await store.stat(a)).toBeUndefined();
    expect(await store.stat(b)).toBeDefined();
  });

  it('list yields every key under a prefix', async () => {
    const store = await create();
    const originals = ['one', 'two', 'three'].map((s) => blobKeys.original(sha256(Buffer.from(s))));
    const processed = [blobKeys.processed(ID, 'display', 'webp'), blobKeys.processed(ID, 'thumb', 'jpg'), blobKeys.processed(OTHER_ID, 'thumb', 'jpg')];
    for (const key of [...originals, ...processed]) await store.put(key, Readable.from([Buffer.from(key)]));
    expect(await collect(store.list('originals/'))).toEqual([...originals].sort());
    expect(await collect(store.list('processed/'))).toEqual([...processed].sort());
    expect(await collect(store.list(blobKeys.processedPrefix(ID)))).toEqual(processed.slice(0, 2).sort());
    expect(await collect(store.list(blobKeys.processedPrefix('0190a0b0-0000-7000-8000-00000000dead')))).toEqual([]);
    const first = originals[0]!;
    expect(await collect(store.list(first.slice(0, 'originals/'.length + 2)))).toContain(first);
  });

  it('localCopy is a readable local file with the blob\'s bytes, until released', async () => {
    const store = await create();
    const data = crypto.randomBytes(50_000);
    const key = blobKeys.original(sha256(data));
    await store.put(key, Readable.from([data]));
    const copy = await store.localCopy(key);
    try {
      expect(fs.readFileSync(copy.path).equals(data)).toBe(true);
    } finally {
      await copy.release();
    }
  });

  it('refuses keys that are not ours: traversal, absolute paths, unknown kinds, empty segments', async () => {
    const store = await create();
    const bad = [
      '../etc/passwd',
      'originals/../../etc/passwd',
      'processed/../../../etc/passwd',
      `processed/${ID}/../../x`,
      `processed/${ID}/..`,
      `processed/..%2f/x`,
      '/etc/passwd',
      'originals/abc',
      `originals/${'a'.repeat(64)}/extra`,
      `processed/${ID}`,
      `processed//display.webp`,
      `processed/${ID}/display.webp/`,
      'uploads/../x',
      'tmp/x',
      '',
      `processed/${ID}/a\0b`,
    ];
    for (const key of bad) {
      expect(() => parseBlobKey(key), key).toThrow(InvalidBlobKeyError);
      await expect(store.open(key), key).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.put(key, Readable.from([Buffer.from('x')])), key).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.stat(key), key).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.delete(key), key).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.localCopy(key), key).rejects.toBeInstanceOf(InvalidBlobKeyError);
    }
    expect(() => blobKeys.processed('../x', 'display', 'webp')).toThrow(InvalidBlobKeyError);
    expect(() => blobKeys.processed(ID, '..', '')).toThrow(InvalidBlobKeyError);
    expect(() => blobKeys.original('not-a-sha')).toThrow(InvalidBlobKeyError);
    await expect(collect(store.list('../'))).rejects.toBeInstanceOf(InvalidBlobKeyError);
    await expect(collect(store.list('processed/../../'))).rejects.toBeInstanceOf(InvalidBlobKeyError);
  });
});

describe.each(primaryStores)('primary blob store contract: $name', ({ create }) => {
  it('an opened blob stays whole when its key is deleted or replaced meanwhile (what downloads promise)', async () => {
    const store = await create();
    const key = blobKeys.processed(ID, 'display', 'webp');
    const data = crypto.randomBytes(200_000);
    await store.put(key, Readable.from([data]));
    const blob = await store.open(key);
    await store.put(key, Readable.from([Buffer.from('replaced')]));
    store.deleteSync(key);
    expect((await bytesOf(blob)).equals(data)).toBe(true);
  });

  it('existsSync, deleteSync and deletePrefixSync act in the same tick; the prefix is one image\'s processed files', async () => {
    const store = await create();
    const a = blobKeys.processed(ID, 'display', 'webp');
    const b = blobKeys.processed(ID, 'thumb', 'jpg');
    const other = blobKeys.processed(OTHER_ID, 'thumb', 'jpg');
    for (const key of [a, b, other]) await store.put(key, Readable.from([Buffer.from(key)]));
    expect(store.existsSync(a)).toBe(true);
    store.deleteSync(a);
    expect(store.existsSync(a)).toBe(false);
    store.deleteSync(a); // not there: no error
    store.deletePrefixSync(blobKeys.processedPrefix(ID));
    expect(await store.stat(b)).toBeUndefined();
    expect(await store.stat(other)).toBeDefined();
    expect(() => store.deletePrefixSync('processed/')).toThrow();
    expect(() => store.deleteSync('../x')).toThrow(InvalidBlobKeyError);
    expect(() => store.existsSync(`processed/${ID}/../../x`)).toThrow(InvalidBlobKeyError);
  });

  it('staged files: sealed, adopted as originals (identical bytes kept once) and placed under processed keys', async () => {
    const store = await create();
    const data = crypto.randomBytes(10_000);
    const staged = store.stagingPath('.upload');
    fs.writeFileSync(staged, data);
    await store.sealStaged(staged);
    const batch = new Set<string>();
    store.adoptOriginalSync(staged, sha256(data), batch);
    store.commitBatchSync(batch);
    expect(fs.existsSync(staged)).toBe(false);
    expect((await readAll(store, blobKeys.original(sha256(data)))).equals(data)).toBe(true);

    // The same bytes again: the stored blob is kept, the staged copy dropped.
    const again = store.stagingPath();
    fs.writeFileSync(again, data);
    store.adoptOriginalSync(again, sha256(data));
    expect(fs.existsSync(again)).toBe(false);
    expect(await collect(store.list('originals/'))).toEqual([blobKeys.original(sha256(data))]);

    const outputs = ['display', 'thumb'].map((name) => {
      const from = store.stagingPath('.webp');
      fs.writeFileSync(from, name);
      return { from, key: blobKeys.processed(ID, name, 'webp') };
    });
    store.placeStagedSync(outputs);
    for (const { key } of outputs) expect((await readAll(store, key)).toString()).toBe(key.split('/').pop()!.replace('.webp', ''));
  });

  it('replaceOriginalSync puts a verified copy in place of a damaged original', async () => {
    const store = await create();
    const data = Buffer.from('the real bytes');
    const key = blobKeys.original(sha256(data));
    await store.put(key, Readable.from([Buffer.from('damaged')]));
    const staged = store.stagingPath();
    fs.writeFileSync(staged, data);
    store.replaceOriginalSync(staged, sha256(data));
    expect(await text(await (await store.open(key)).stream())).toBe('the real bytes');
  });

});

describe('s3 blob store', () => {
  it('says an unreachable bucket is unavailable (503 with Retry-After), with what the SDK saw', async () => {
    const closed = createS3Bucket({ bucket: 'nowhere', prefix: '', endpoint: 'http://127.0.0.1:1', region: 'us-east-1', forcePathStyle: true });
    const store = createS3BlobStore(closed, { stagingDir: tempDir() });
    const key = blobKeys.original(sha256(Buffer.from('x')));
    const attempts = [() => store.open(key), () => store.stat(key), () => store.localCopy(key), () => store.put(key, Readable.from([Buffer.from('x')]))];
    for (const attempt of attempts) {
      const err = await attempt().then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(BlobStoreUnavailableError);
      expect((err as BlobStoreUnavailableError).status).toBe(503);
      expect((err as BlobStoreUnavailableError).headers['Retry-After']).toBe('30');
      expect((err as BlobStoreUnavailableError).detail).toMatch(/ECONNREFUSED/);
    }
    closed.destroy();
  });
});

describe('s3 primary store', () => {
  const create = () => {
    const bucket = createS3Bucket({ bucket: s3.bucket, prefix: `primary-${++prefixes}`, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true });
    const store = createS3PrimaryStore(bucket, { stagingDir: tempDir(), partSize: 64 * 1024 });
    store.init();
    return store;
  };

  it('uploads a staged file under its key in parts, verified against the sha256; other bytes store nothing', async () => {
    const store = create();
    const bytes = crypto.randomBytes(300 * 1024 + 7);
    const staged = store.stagingPath();
    fs.writeFileSync(staged, bytes);
    const key = blobKeys.original(sha256(bytes));
    await store.upload(staged, key, { sha256: sha256(bytes) });
    expect((await readAll(store, key)).equals(bytes)).toBe(true);
    // The staged file is the caller's to remove.
    expect(fs.existsSync(staged)).toBe(true);

    const wrong = blobKeys.original('1'.repeat(64));
    await expect(store.upload(staged, wrong, { sha256: '1'.repeat(64) })).rejects.toThrow(BlobIntegrityError);
    expect(await store.stat(wrong)).toBeUndefined();
  });

  it('reuse keeps identical bytes already stored (same size) and sends nothing', async () => {
    const store = create();
    const bytes = crypto.randomBytes(1000);
    const staged = store.stagingPath();
    fs.writeFileSync(staged, bytes);
    const key = blobKeys.original(sha256(bytes));
    await store.upload(staged, key, { sha256: sha256(bytes) });
    const before = (await store.stat(key))!;
    await new Promise((r) => setTimeout(r, 1100));
    await store.upload(staged, key, { sha256: sha256(bytes), reuse: true });
    expect((await store.stat(key))!.modifiedMs).toBe(before.modifiedMs);
  });

  it('deletePrefix removes one image\'s processed files; localCopy is a staged download; init empties the staging folder', async () => {
    const store = create();
    for (const [id, name] of [[ID, 'a.webp'], [ID, 'b.webp'], [OTHER_ID, 'a.webp']] as const) {
      await store.put(`processed/${id}/${name}`, Readable.from([Buffer.from(name)]));
    }
    await store.deletePrefix(blobKeys.processedPrefix(ID));
    expect(await collect(store.list('processed/'))).toEqual([`processed/${OTHER_ID}/a.webp`]);

    const copy = await store.localCopy(`processed/${OTHER_ID}/a.webp`);
    expect(path.dirname(copy.path)).toBe(store.stagingDir);
    expect(fs.readFileSync(copy.path, 'utf8')).toBe('a.webp');
    fs.writeFileSync(store.stagingPath(), 'left by a crash');
    store.init();
    expect(fs.readdirSync(store.stagingDir)).toEqual([]);
    expect(await store.freeBytes()).toBeGreaterThan(0);
    expect(await store.isReachable()).toBe(true);
  });
});

describe('recorded variant keys', () => {
  it('reads the key a variant row records, and the data-dir path rows recorded before keys', () => {
    const key = blobKeys.processed(ID, 'display', 'webp');
    expect(blobKeys.recordedVariant(ID, key)).toBe(key);
    expect(blobKeys.recordedVariant(ID, `/var/lib/darkroom/processed/ab/cd/${ID}/display.webp`)).toBe(key);
    expect(() => blobKeys.recordedVariant(ID, 'processed/../x')).toThrow(InvalidBlobKeyError);
  });
});

/**
 * The upload-parts half of the port (storage/upload-parts.ts), written once like the blob store
 * contract: an adapter is added to `uploadPartStores` with a factory for a fresh, empty store.
 */
const fsUploadParts = () => {
  const dataDir = tempDir();
  const blobs = createFsBlobStore(dataDir);
  blobs.init();
  return { dataDir, parts: createFsUploadParts(dataDir, { stagingPath: () => blobs.stagingPath() }) };
};
const uploadPartStores: Array<{ name: string; create(): Promise<UploadPartStore> }> = [
  { name: 'fs', create: async () => fsUploadParts().parts },
  {
    name: 's3',
    async create() {
      // A fresh prefix of one bucket; small parts exercise multipart within one append.
      const bucket = createS3Bucket({ bucket: s3.bucket, prefix: `uploads-${++prefixes}`, endpoint: s3.endpoint, region: 'us-east-1', forcePathStyle: true });
      const staging = tempDir();
      return createS3UploadParts(bucket, { stagingPath: () => path.join(staging, crypto.randomUUID()), partSize: 64 * 1024 });
    },
  },
];

const UPLOAD = 'a'.repeat(32);
let uploads = 0;
const freshUploadKey = () => blobKeys.upload((++uploads).toString(16).padStart(32, '0'));

/** A source that yields `chunks` and then fails, as a request cut off or refused half-way does. */
function failingSource(chunks: Buffer[], error: Error): Readable {
  return Readable.from(
    (async function* () {
      for (const chunk of chunks) yield chunk;
      throw error;
    })(),
  );
}

describe.each(uploadPartStores)('upload parts contract: $name', ({ create }) => {
  it('creates an upload with no bytes and its record; parts appended at their offsets read back whole', async () => {
    const parts = await create();
    const key = freshUploadKey();
    const record = { size: 11, metadata: { filename: 'a.jpg', note: null }, createdAt: '2026-01-02T03:04:05.000Z' };
    await parts.create(key, record);
    expect(await parts.readRecord(key)).toEqual(record);
    expect((await parts.stat(key))?.bytes).toBe(0);
    expect(await parts.append(key, Readable.from([Buffer.from('hello ')]), 0)).toBe(6);
    expect(await parts.append(key, Readable.from([Buffer.from('wor'), Buffer.from('ld')]), 6)).toBe(11);
    expect((await parts.stat(key))?.bytes).toBe(11);
    const opened = await parts.open(key);
    expect(opened.size).toBe(11);
    expect(await text(await opened.stream())).toBe('hello world');
  });

  it('a source that fails rejects append with its own error; what was stored stays, to resume from', async () => {
    const parts = await create();
    const key = freshUploadKey();
    await parts.create(key, { size: 100, metadata: {} });
    const refusal = new Error('refused by the caller');
    const err = await parts.append(key, failingSource([Buffer.alloc(10, 1)], refusal), 0).then(() => undefined, (e: unknown) => e);
    expect(err).toBe(refusal);
    const stored = (await parts.stat(key))!.bytes;
    expect(stored).toBeLessThanOrEqual(10);
    expect(await parts.append(key, Readable.from([Buffer.alloc(100 - stored, 2)]), stored)).toBe(100);
    expect((await parts.stat(key))?.bytes).toBe(100);
  });

  it('writeRecord replaces the record and leaves the bytes; removeBytes leaves the record', async () => {
    const parts = await create();
    const key = freshUploadKey();
    await parts.create(key, { size: 3, metadata: { filename: 'x.png' } });
    await parts.append(key, Readable.from([Buffer.from('abc')]), 0);
    await parts.writeRecord(key, { size: 3, metadata: { filename: 'x.png', done: 'yes' } });
    expect(await parts.readRecord(key)).toEqual({ size: 3, metadata: { filename: 'x.png', done: 'yes' } });
    expect((await parts.stat(key))?.bytes).toBe(3);
    await parts.removeBytes(key);
    expect(await parts.stat(key)).toBeUndefined();
    await expect(parts.open(key)).rejects.toBeInstanceOf(BlobNotFoundError);
    expect((await parts.readRecord(key))?.metadata.done).toBe('yes');
  });

  it('stageForIngest hands over a local file with the bytes; the upload keeps its own until removed', async () => {
    const parts = await create();
    const key = freshUploadKey();
    await parts.create(key, { size: 5, metadata: {} });
    await parts.append(key, Readable.from([Buffer.from('bytes')]), 0);
    const staged = await parts.stageForIngest(key);
    expect(fs.readFileSync(staged, 'utf8')).toBe('bytes');
    fs.rmSync(staged); // what ingest does with what it was given when it fails
    expect(await text(await (await parts.open(key)).stream())).toBe('bytes');
  });

  it('remove drops bytes and record; removing what is not there is not an error', async () => {
    const parts = await create();
    const key = freshUploadKey();
    await parts.create(key, { size: 1, metadata: {} });
    await parts.remove(key);
    expect(await parts.readRecord(key)).toBeUndefined();
    expect(await parts.stat(key)).toBeUndefined();
    await parts.remove(key);
    await parts.remove(blobKeys.upload(UPLOAD));
  });

  it('lists every upload with a record and when it was last touched', async () => {
    const parts = await create();
    const before = Date.now() - 1000;
    const [a, b] = [freshUploadKey(), freshUploadKey()];
    await parts.create(a, { size: 1, metadata: {} });
    await parts.create(b, { size: 1, metadata: {} });
    await parts.removeBytes(b); // a completed upload's record is still listed
    const listed = [];
    for await (const entry of parts.list()) listed.push(entry);
    expect(listed.map((e) => e.key).sort()).toEqual([a, b].sort());
    for (const { touchedMs } of listed) expect(touchedMs).toBeGreaterThanOrEqual(before);
  });

  it('refuses keys that are not upload keys', async () => {
    const parts = await create();
    const bad = ['uploads/../darkroom.db', `uploads/${UPLOAD}/x`, 'uploads/ABC', `/uploads/${UPLOAD}`, blobKeys.original(sha256(Buffer.from('x'))), `uploads/${UPLOAD}.json`];
    for (const key of bad) {
      await expect(parts.create(key, { metadata: {} })).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(parts.readRecord(key)).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(parts.stat(key)).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(parts.remove(key)).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(parts.writeRecord(key, { metadata: {} })).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(parts.append(key, Readable.from([Buffer.from('x')]), 0)).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(parts.open(key)).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(parts.stageForIngest(key)).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(parts.removeBytes(key)).rejects.toBeInstanceOf(InvalidBlobKeyError);
    }
    expect(() => blobKeys.upload('../x')).toThrow(InvalidBlobKeyError);
  });
});

describe('fs upload parts', () => {
  it('keeps the layout of the tus file store: uploads in progress before an upgrade resume after it', async () => {
    const { dataDir, parts } = fsUploadParts();
    // What @tus/file-store left in uploads/: the bytes so far, and the JSON of tus's Upload.
    const dir = path.join(dataDir, 'uploads');
    fs.writeFileSync(path.join(dir, UPLOAD), 'half');
    const legacy = { id: UPLOAD, metadata: { filename: 'old.jpg', 'darkroom-customer': 'c1', 'darkroom-image-id': null }, size: 8, offset: 0, creation_date: '2026-01-01T00:00:00.000Z' };
    fs.writeFileSync(path.join(dir, `${UPLOAD}.json`), JSON.stringify(legacy));
    const key = blobKeys.upload(UPLOAD);
    expect(await parts.readRecord(key)).toEqual({ size: 8, metadata: legacy.metadata, createdAt: legacy.creation_date });
    expect(await parts.append(key, Readable.from([Buffer.from(' way')]), 4)).toBe(8);
    expect(fs.readFileSync(path.join(dir, UPLOAD), 'utf8')).toBe('half way');
    // And what it writes an older server reads alike.
    await parts.writeRecord(key, { size: 8, metadata: { ...legacy.metadata, 'darkroom-image-id': 'img' }, createdAt: legacy.creation_date });
    expect(JSON.parse(fs.readFileSync(path.join(dir, `${UPLOAD}.json`), 'utf8'))).toEqual({ ...legacy, metadata: { ...legacy.metadata, 'darkroom-image-id': 'img' } });
  });

  it('staging that fails for a passing reason fails the attempt and keeps the bytes (only a filesystem without hard links hands over its own file)', async () => {
    const dataDir = tempDir();
    const blobs = createFsBlobStore(dataDir);
    blobs.init();
    // A staging folder that is not there: link(2) answers ENOENT, as it would EMFILE or EIO.
    const parts = createFsUploadParts(dataDir, { stagingPath: () => path.join(dataDir, 'no-such-folder', 'staged') });
    const key = blobKeys.upload(UPLOAD);
    await parts.create(key, { size: 5, metadata: {} });
    await parts.append(key, Readable.from([Buffer.from('bytes')]), 0);
    await expect(parts.stageForIngest(key)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await text(await (await parts.open(key)).stream())).toBe('bytes');
  });

  it('a record cut short by a crash is no upload; other files in uploads/ are not listed', async () => {
    const { dataDir, parts } = fsUploadParts();
    const dir = path.join(dataDir, 'uploads');
    fs.writeFileSync(path.join(dir, `${UPLOAD}.json`), '{"id":"aa');
    fs.writeFileSync(path.join(dir, 'notes.json'), '{}');
    expect(await parts.readRecord(blobKeys.upload(UPLOAD))).toBeUndefined();
    const listed = [];
    for await (const { key } of parts.list()) listed.push(key);
    expect(listed).toEqual([blobKeys.upload(UPLOAD)]);
  });
});
