import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBufferPool } from '../../server/storage/buffer-pool.js';
import { LocalIntegrityError, UploadGoneError, uploadFile, type UploadRequest } from '../../server/storage/s3/multipart-upload.js';
import { startS3rver, type S3rver } from '../helpers/s3rver.js';
import { sha256 } from '../helpers/hash.js';
import { tempDir } from '../helpers/server.js';

const MiB = 1024 * 1024;
let s3: S3rver;
const dir = tempDir('darkroom-s3-upload-');
const file = path.join(dir, 'data.bin');
const data = crypto.randomBytes(22 * MiB); // 5 parts of 5 MiB, the last one short
const digest = sha256(data);

beforeAll(async () => {
  s3 = await startS3rver();
  fs.writeFileSync(file, data);
});
afterAll(async () => {
  await s3?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** One uploadFile call on the test file, recording what it reports. */
async function upload(key: string, extra: Partial<UploadRequest> = {}) {
  const handle = await fs.promises.open(file, 'r');
  const started: Array<{ uploadId: string; partSize: number }> = [];
  const parts: Array<{ partNumber: number; etag: string; crc32: string; bytes: number }> = [];
  const buffers = createBufferPool({ slots: 3, slabSize: 5 * MiB });
  try {
    const result = await uploadFile({
      bucket: s3.client,
      key,
      file: handle,
      size: data.length,
      sha256: digest,
      info: { contentType: 'application/octet-stream' },
      buffers,
      minPartSize: 5 * MiB,
      partConcurrency: 2,
      onMultipartStarted: (uploadId, partSize) => started.push({ uploadId, partSize }),
      onPartDone: (part) => parts.push(part),
      signal: new AbortController().signal,
      ...extra,
    });
    return { result, started, parts, inUse: buffers.inUse() };
  } finally {
    await handle.close();
  }
}

describe('resumable, verified multipart uploads', () => {
  it('continues an interrupted upload from the parts already stored', async () => {
    // The first attempt is cut off after two parts (as a crash would).
    const controller = new AbortController();
    const first: Array<{ part_number: number; etag: string; crc32: string; bytes: number }> = [];
    let uploadId = '';
    await expect(
      upload('resume', {
        signal: controller.signal,
        onMultipartStarted: (id) => (uploadId = id),
        onPartDone: (p) => {
          first.push({ part_number: p.partNumber, etag: p.etag, crc32: p.crc32, bytes: p.bytes });
          if (first.length === 2) controller.abort();
        },
      }),
    ).rejects.toThrow();
    expect(first.length).toBeGreaterThanOrEqual(2);
    expect((await s3.objects('resume')).size).toBe(0);

    const second = await upload('resume', { resume: { uploadId, partSize: 5 * MiB, parts: first } });
    expect(second.result).toEqual({ multipart: true, resumedBytes: first.reduce((n, p) => n + p.bytes, 0) });
    expect(second.started).toEqual([]); // the same multipart upload, continued
    expect(second.parts.map((p) => p.partNumber).sort()).toEqual([1, 2, 3, 4, 5].filter((n) => !first.some((p) => p.part_number === n)));
    expect(second.inUse).toBe(0);
    expect(await s3.sha256Of('resume')).toBe(digest);
  });

  it('starts over when a stored part no longer matches the file', async () => {
    const controller = new AbortController();
    const first: Array<{ part_number: number; etag: string; crc32: string; bytes: number }> = [];
    let uploadId = '';
    await expect(
      upload('changed', {
        signal: controller.signal,
        onMultipartStarted: (id) => (uploadId = id),
        onPartDone: (p) => {
          first.push({ part_number: p.partNumber, etag: p.etag, crc32: p.crc32, bytes: p.bytes });
          controller.abort();
        },
      }),
    ).rejects.toThrow();
    const stale = first.map((p) => ({ ...p, crc32: 'AAAAAA==' }));
    await expect(upload('changed', { resume: { uploadId, partSize: 5 * MiB, parts: stale } })).rejects.toBeInstanceOf(UploadGoneError);
    // Without the stale state, a new upload goes through.
    const fresh = await upload('changed');
    expect(fresh.started).toHaveLength(1);
    expect(await s3.sha256Of('changed')).toBe(digest);
  });

  it('never completes an object whose bytes are not the recorded sha256', async () => {
    const wrong = '0'.repeat(64);
    await expect(upload('wrong-multipart', { sha256: wrong })).rejects.toBeInstanceOf(LocalIntegrityError);
    expect((await s3.objects('wrong-multipart')).size).toBe(0);

    // Small files too (one PUT).
    const small = path.join(dir, 'small.bin');
    fs.writeFileSync(small, data.subarray(0, 1000));
    const handle = await fs.promises.open(small, 'r');
    try {
      await expect(
        uploadFile({
          bucket: s3.client,
          key: 'wrong-small',
          file: handle,
          size: 1000,
          sha256: wrong,
          info: {},
          buffers: createBufferPool({ slots: 1, slabSize: 5 * MiB }),
          minPartSize: 5 * MiB,
          partConcurrency: 1,
          onMultipartStarted: () => {},
          onPartDone: () => {},
          signal: new AbortController().signal,
        }),
      ).rejects.toBeInstanceOf(LocalIntegrityError);
    } finally {
      await handle.close();
    }
    expect((await s3.objects('wrong-small')).size).toBe(0);
  });
});
