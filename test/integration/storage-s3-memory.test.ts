import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peakRss, spawnServer, type ChildServer } from '../helpers/child.js';
import { sendJpegThenZeros } from '../helpers/images.js';
import { startS3rver, type S3rver } from '../helpers/s3rver.js';
import { ADMIN_KEY, ApiClient, listFiles, tempDir } from '../helpers/server.js';

const dataDir = tempDir('darkroom-s3-memory-');
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

const MiB = 1024 ** 2;
const SIZE = 400 * MiB;

/** Streams `total` bytes: a real JPEG, then zeros (decoders stop at the JPEG's end marker). */
function streamUpload(url: string, total: number): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/v1/image`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'image/jpeg', 'content-length': String(total), 'x-filename': 'big.jpg' },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    sendJpegThenZeros(req, total);
  });
}

/** Downloads the original and hashes it on the way, holding nothing. */
function downloadSha256(url: string, id: string): Promise<{ status: number; sha256: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    http
      .get(`${url}/v1/image/${id}/download?variant=original`, { headers: { authorization: `Bearer ${ADMIN_KEY}` } }, (res) => {
        const hash = crypto.createHash('sha256');
        let bytes = 0;
        res.on('data', (c: Buffer) => {
          hash.update(c);
          bytes += c.length;
        });
        res.on('end', () => resolve({ status: res.statusCode!, sha256: hash.digest('hex'), bytes }));
        res.on('error', reject);
      })
      .on('error', reject);
  });
}

describe('--storage s3: memory', () => {
  it('an upload of 400 MB into the bucket, and its download from it, keep the server\'s peak RSS under 300 MB', { timeout: 240_000 }, async () => {
    server = await spawnServer(['serve', '--data-dir', dataDir, '--port', '0', '--workers', '1', '--admin-key', ADMIN_KEY, '--storage', 's3', ...s3.flags('memory')]);
    const res = await streamUpload(server.url, SIZE);
    expect(res.status).toBe(202);
    expect(res.body.bytes).toBe(SIZE);
    expect((await s3.objects(`memory/originals/${res.body.sha256}`)).get(`memory/originals/${res.body.sha256}`)).toBe(SIZE);
    const afterUpload = await peakRss(server.proc.pid!);

    const got = await downloadSha256(server.url, res.body.id);
    expect(got).toEqual({ status: 200, sha256: res.body.sha256, bytes: SIZE });
    const done = await new ApiClient(server.url, ADMIN_KEY).waitFor(res.body.id, ['done', 'failed'], 120_000);
    expect(done.status).toBe('done');
    const after = await peakRss(server.proc.pid!);
    // Reported for the record; the bound is what matters.
    console.log(`server peak RSS after a 400 MB upload into the bucket ${(afterUpload / MiB).toFixed(0)} MB, after its download and processing ${(after / MiB).toFixed(0)} MB`);
    expect(after).toBeLessThan(300 * 1000 * 1000);
    // The staged upload and the local copy for processing are gone.
    expect(listFiles(dataDir).filter((f) => f.startsWith('tmp/'))).toEqual([]);
  });
});
