import fs from 'node:fs';
import http from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { peakRss, spawnServer, type ChildServer } from '../helpers/child.js';
import { sendJpegThenZeros } from '../helpers/images.js';
import { ADMIN_KEY, ApiClient, tempDir } from '../helpers/server.js';
import { TusClient, patchAll } from '../helpers/tus.js';

const dataDir = tempDir('darkroom-tus-memory-');
let server: ChildServer | undefined;

afterAll(() => {
  server?.proc.kill('SIGKILL');
  fs.rmSync(dataDir, { recursive: true, force: true });
});

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;


describe('streaming resumable uploads', () => {
  it('takes a 1 GiB tus upload with the server peak RSS under 300 MB', async () => {
    server = await spawnServer(['serve', '--data-dir', dataDir, '--port', '0', '--workers', '1', '--admin-key', ADMIN_KEY]);
    const admin = new ApiClient(server.url, ADMIN_KEY);
    const created = await new TusClient(admin).create(GiB, { filename: 'big.jpg' });
    expect(created.status).toBe(201);
    const res = await patchAll(server.url, created.location!, GiB);
    expect(res.status).toBe(204);
    const after = await peakRss(server.proc.pid!);
    console.log(`server peak RSS after a 1 GiB tus upload: ${(after / MiB).toFixed(0)} MB`);
    expect(after).toBeLessThan(300 * 1000 * 1000);
    const done = await admin.waitFor(res.imageId!, ['done', 'failed'], 60_000);
    expect([done.status, done.bytes]).toEqual(['done', GiB]);
  });
});
