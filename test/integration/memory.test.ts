import fs from 'node:fs';
import http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { peakRss, spawnServer, type ChildServer } from '../helpers/child.js';
import { sendJpegThenZeros } from '../helpers/images.js';
import { ADMIN_KEY, ApiClient, tempDir } from '../helpers/server.js';

const dataDir = tempDir('darkroom-memory-');
let server: ChildServer | undefined;

afterAll(() => {
  server?.proc.kill('SIGKILL');
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** Streams `total` bytes: a real JPEG, then zeros (decoders stop at the JPEG's end marker). */
function streamUpload(url: string, total: number): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}/v1/image`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${ADMIN_KEY}`,
        'content-type': 'image/jpeg',
        'content-length': String(total),
        'x-filename': 'big.jpg',
      },
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

describe('streaming uploads', () => {
  it('takes a 1 GiB body with the server peak RSS under 300 MB', async () => {
    server = await spawnServer(['serve', '--data-dir', dataDir, '--port', '0', '--workers', '1', '--admin-key', ADMIN_KEY]);
    const before = await peakRss(server.proc.pid!);
    const res = await streamUpload(server.url, GiB);
    expect(res.status).toBe(202);
    expect(res.body.bytes).toBe(GiB);
    const after = await peakRss(server.proc.pid!);
    // Reported for the record; the bound is what matters.
    console.log(`server peak RSS before ${(before / MiB).toFixed(0)} MB, after 1 GiB upload ${(after / MiB).toFixed(0)} MB`);
    expect(after).toBeLessThan(300 * 1000 * 1000);
    const done = await new ApiClient(server.url, ADMIN_KEY).waitFor(res.body.id, ['done', 'failed'], 60_000);
    expect(done.status).toBe('done');
  });
});
