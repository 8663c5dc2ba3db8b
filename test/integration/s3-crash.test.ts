import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { peakRss, spawnServer, type ChildServer } from '../helpers/child.js';
import { fixture } from '../helpers/images.js';
import { S3RVER_CREDENTIALS, startS3rver, syncIdle, type S3rver } from '../helpers/s3rver.js';
import { eventually } from '../helpers/eventually.js';
import { ADMIN_KEY, ApiClient, tempDir } from '../helpers/server.js';

const MiB = 1024 * 1024;
const SIZE = 300 * MiB;
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

const start = () =>
  spawnServer(['serve', '--data-dir', dataDir, '--port', '0', '--workers', '1', '--admin-key', ADMIN_KEY, ...s3.flags('crash')], {
    ...S3RVER_CREDENTIALS,
    DARKROOM_LOG_LEVEL: 'info',
  });

/** Streams a `total`-byte JPEG (a real one, then a pattern) and returns the answer and its sha256. */
function streamUpload(url: string, total: number): Promise<{ status: number; body: any; sha256: string }> {
  const head = fixture('ipx-husky-snow.jpg');
  const block = Buffer.alloc(4 * MiB);
  const hash = crypto.createHash('sha256');
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/v1/image`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'image/jpeg', 'content-length': String(total), 'x-filename': 'huge.jpg' },
    });
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text), sha256: hash.digest('hex') }));
    });
    req.on('error', reject);
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        let chunk: Buffer;
        if (sent === 0) chunk = head;
        else {
          chunk = Buffer.from(block.subarray(0, Math.min(block.length, total - sent)));
          chunk.writeUInt32BE(sent >>> 0, 0); // every block different, so every part is
        }
        sent += chunk.length;
        hash.update(chunk);
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

describe('kill -9 during a multipart upload to the bucket', () => {
  it('resumes at the next part after a restart, and the object is the upload byte for byte', async () => {
    server = await start();
    let client = new ApiClient(server.url, ADMIN_KEY);
    const upload = await streamUpload(server.url, SIZE);
    expect(upload.status).toBe(202);
    expect(upload.body.sha256).toBe(upload.sha256);
    const key = `crash/originals/${upload.sha256}`;

    // Some parts stored, most not: then kill.
    const progress = await eventually(
      async () => {
        const s = (await client.json('GET', '/v1/sync')).body;
        const f = s.inFlight.find((x: any) => x.key === key);
        return f && f.bytesDone >= 3 * 8 * MiB && f.bytesDone < SIZE * 0.75 && f;
      },
      60_000,
      'multipart upload under way',
    );
    server.proc.kill('SIGKILL');
    expect(await server.exited).toBe('SIGKILL');
    expect((await s3.objects(key)).size).toBe(0); // not completed

    server = await start();
    client = new ApiClient(server.url, ADMIN_KEY);
    // Done when the server has its answer to the completion (s3rver lists an object while it is
    // still writing it).
    const status = await syncIdle(client, (s) => s.synced.bytes >= SIZE, 120_000, 'object completed after restart');
    expect(status.failed.jobs).toBe(0);

    // It went on from the stored parts rather than from the start.
    const resumed = server
      .stderr()
      .split('\n')
      .filter((line) => line.includes('resuming multipart upload'))
      .map((line) => JSON.parse(line));
    expect(resumed).toHaveLength(1);
    expect(resumed[0].key).toBe('originals/' + upload.sha256);
    // Every part reported done before the kill was recorded, and kept.
    expect(resumed[0].resumedBytes).toBeGreaterThanOrEqual(progress.bytesDone);
    expect(resumed[0].resumedBytes).toBeLessThan(SIZE);

    // Streaming: the restarted server synced 300 MB without holding it (parts are bounded buffers).
    const peak = await peakRss(server.proc.pid!);
    expect(peak).toBeLessThan(300 * 1000 * 1000);

    expect((await s3.client.head(key)).bytes).toBe(SIZE);
    expect(await s3.sha256Of(key)).toBe(upload.sha256);
    expect((await client.waitFor(upload.body.id, ['done', 'failed'], 60_000)).status).toBe('done');
  });

  it('stops within 10 s on SIGTERM while the bucket hangs mid-upload, and finishes after the restart', async () => {
    if (!server || server.proc.exitCode !== null || server.proc.signalCode !== null) server = await start();
    let client = new ApiClient(server.url, ADMIN_KEY);
    const before = (await client.json('GET', '/v1/sync')).body.synced.bytes;
    const size = 120 * MiB;
    const upload = await streamUpload(server.url, size);
    const key = `crash/originals/${upload.sha256}`;
    await eventually(
      async () => (await client.json('GET', '/v1/sync')).body.inFlight.some((x: any) => x.key === key && x.bytesDone >= 8 * MiB),
      60_000,
      'upload under way',
    );
    s3.pause();
    try {
      const started = Date.now();
      server!.proc.kill('SIGTERM');
      expect(await server!.exited).toBe(0);
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      s3.resume();
    }
    // Abandoned, not failed: nothing was logged as an error on the way out.
    expect(server!.stderr().split('\n').filter((line) => /"level":(50|60)/.test(line))).toEqual([]);

    server = await start();
    client = new ApiClient(server.url, ADMIN_KEY);
    await syncIdle(client, (s) => s.synced.bytes >= before + size, 120_000, 'object completed after restart');
    const resumed = server
      .stderr()
      .split('\n')
      .filter((line) => line.includes('resuming multipart upload'))
      .map((line) => JSON.parse(line));
    expect(resumed.map((r) => r.key)).toEqual([`originals/${upload.sha256}`]);
    expect(resumed[0].resumedBytes).toBeGreaterThanOrEqual(8 * MiB);
    expect(await s3.sha256Of(key)).toBe(upload.sha256);
  });
});
