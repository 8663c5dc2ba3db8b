import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import * as tus from 'tus-js-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, pngBomb } from '../helpers/images.js';
import { listFiles, startTestServer, type ApiClient, type TestServer } from '../helpers/server.js';
import { TusClient } from '../helpers/tus.js';
import { sha256 } from '../helpers/hash.js';

let t: TestServer;
let user: ApiClient;
let tusUser: TusClient;

const uploadsDir = () => path.join(t.dataDir, 'uploads');

beforeAll(async () => {
  t = await startTestServer();
  user = await t.client('user', 'acme');
  tusUser = new TusClient(user);
});
afterAll(() => t.close());

/** Uploads with the real tus client, as the web UI does; resolves with Darkroom-Image-Id. */
function tusUpload(client: ApiClient, data: Buffer, metadata: Record<string, string>, chunkSize = Infinity) {
  return new Promise<string>((resolve, reject) => {
    const upload = new tus.Upload(data, {
      endpoint: `${client.url}/v1/uploads`,
      headers: client.headers(),
      metadata,
      chunkSize,
      retryDelays: [],
      onError: reject,
      onSuccess: ({ lastResponse }) => resolve(lastResponse.getHeader('Darkroom-Image-Id') ?? ''),
    });
    upload.start();
  });
}

describe('resumable uploads (tus)', () => {
  it('uploads with the tus client in parts, answers with Darkroom-Image-Id, and ingests like any upload', async () => {
    const original = fixture('ipx-bliss.jpg');
    const variants = JSON.stringify([{ name: 'small', width: 200, format: 'avif', quality: 40 }]);
    const id = await tusUpload(user, original, { filename: 'bliss.jpg', variants }, 256 * 1024);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    const done = await user.waitFor(id);
    expect(done).toMatchObject({ status: 'done', customer: 'acme', filename: 'bliss.jpg', bytes: original.length, sha256: sha256(original), format: 'jpeg' });
    expect(done.variants.map((v: any) => [v.name, v.format, v.width])).toEqual([['small', 'avif', 200]]);
    const got = await user.download(id, 'original');
    expect(got.body.equals(original)).toBe(true);
    const small = await user.download(id, 'small');
    expect((await sharp(small.body).metadata()).format).toBe('heif');
    // The bytes moved into the store; only the small completion record is left.
    expect(listFiles(uploadsDir()).filter((f) => !f.endsWith('.json'))).toEqual([]);
  });

  it('resumes where the bytes stopped after a dropped connection and a server restart, with the right sha256', async () => {
    const original = fixture('imaginary-large.jpg');
    const created = await tusUser.create(original.length, { filename: 'large.jpg' });
    expect(created.status).toBe(201);
    expect(created.location).toMatch(/^\/v1\/uploads\/[0-9a-f]{32}$/);
    const location = created.location!;

    // The connection drops in the middle of a part: what arrived is kept.
    const first = original.subarray(0, 300_000);
    expect(await tusUser.patchPartially(location, 0, first, original.length, { cut: true })).toBe('cut');
    await waitUntil(async () => (await tusUser.head(location)).offset === first.length);

    // The server stops and starts again on the same data dir: the upload is still there.
    await t.close();
    t = await startTestServer({ dataDir: t.dataDir });
    user = new (user.constructor as typeof ApiClient)(t.url, user.key);
    tusUser = new TusClient(user);
    const head = await tusUser.head(location);
    expect([head.status, head.offset, Number(head.headers.get('upload-length'))]).toEqual([200, first.length, original.length]);

    const rest = await tusUser.patch(location, head.offset, original.subarray(head.offset));
    expect(rest.status).toBe(204);
    const id = rest.headers.get('darkroom-image-id')!;
    const done = await user.waitFor(id);
    expect(done.sha256).toBe(sha256(original));
    expect((await user.download(id, 'original')).body.equals(original)).toBe(true);
  });

  it('tells a client that lost the final answer the image id again, without ingesting twice', async () => {
    const original = fixture('imaginary-medium.jpg');
    const { location } = await tusUser.create(original.length, { filename: 'medium.jpg' });
    const final = await tusUser.patch(location!, 0, original);
    const id = final.headers.get('darkroom-image-id');
    expect(id).toBeTruthy();

    const head = await tusUser.head(location!);
    expect([head.status, head.offset, head.headers.get('darkroom-image-id')]).toEqual([200, original.length, id]);
    const again = await tusUser.patch(location!, original.length, Buffer.alloc(0));
    expect([again.status, again.headers.get('darkroom-image-id')]).toEqual([204, id]);
    const list = await user.json('GET', '/v1/images?limit=500');
    expect(list.body.items.filter((i: any) => i.sha256 === sha256(original))).toHaveLength(1);
  });

  it('answers the same image, without ingesting twice, when the server died after the image was committed but before the upload\'s record said so', async () => {
    const original = fixture('imaginary-medium.jpg');
    const { location } = await tusUser.create(original.length, { filename: 'gap.jpg' });
    const uploadId = location!.split('/').pop()!;
    const recordFile = path.join(uploadsDir(), `${uploadId}.json`);
    const unfinished = fs.readFileSync(recordFile);
    const final = await tusUser.patch(location!, 0, original);
    const id = final.headers.get('darkroom-image-id')!;
    expect(id).toBeTruthy();

    // What a kill -9 between the two steps leaves on disk: the image committed, the upload's
    // bytes still there and its record without the image id.
    await t.close();
    fs.writeFileSync(recordFile, unfinished);
    fs.writeFileSync(path.join(uploadsDir(), uploadId), original);
    t = await startTestServer({ dataDir: t.dataDir });
    user = new (user.constructor as typeof ApiClient)(t.url, user.key);
    tusUser = new TusClient(user);

    const head = await tusUser.head(location!);
    expect([head.status, head.offset, head.headers.get('darkroom-image-id')]).toEqual([200, original.length, id]);
    const list = await user.json('GET', '/v1/images?limit=500');
    expect(list.body.items.filter((i: any) => i.sha256 === sha256(original) && i.filename === 'gap.jpg')).toHaveLength(1);
    // Tidied as it would have been: the bytes went with the image, the record names it.
    expect(fs.existsSync(path.join(uploadsDir(), uploadId))).toBe(false);
    expect(JSON.parse(fs.readFileSync(recordFile, 'utf8')).metadata['darkroom-image-id']).toBe(id);
  });

  it('refuses a text file with 415 after its first bytes, and leaves nothing behind', async () => {
    const declared = 50 * 1024 * 1024;
    const { location } = await tusUser.create(declared, { filename: 'notes.jpg' });
    // Only the first 64 KB are sent of the 50 MB the part announces: the answer comes anyway.
    const text = Buffer.from('these are not the pixels you are looking for\n'.repeat(1500));
    const res = await tusUser.patchPartially(location!, 0, text, declared);
    expect(res).toMatchObject({ status: 415, body: { error: { code: 'unsupported_media_type' } } });
    expect((res as { body: any }).body.error.message).toContain('notes.jpg');
    expect(listFiles(uploadsDir()).filter((f) => location!.endsWith(f.replace(/\.json$/, '')))).toEqual([]);
    expect((await tusUser.head(location!)).status).toBe(404);
    // Counted as a refused upload, like one refused by POST /v1/image.
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(/darkroom_uploads_total\{outcome="unsupported_media_type"[^}]*\} 1\n/);
  });

  it('refuses a decompression bomb with 422 from its header', async () => {
    const bomb = pngBomb();
    const { location } = await tusUser.create(bomb.length, { filename: 'bomb.png' });
    const res = await tusUser.patch(location!, 0, bomb);
    expect(res.status).toBe(422);
    expect(res.body.error.code).toBe('pixel_limit_exceeded');
    expect((await tusUser.head(location!)).status).toBe(404);
  });

  it('refuses before any byte is sent: 413 over the size limit, 400 for bad variants or no length', async () => {
    const before = listFiles(uploadsDir());
    const tooBig = await tusUser.create(11 * 1024 ** 3, { filename: 'huge.tif' });
    expect([tooBig.status, tooBig.body.error.code]).toEqual([413, 'payload_too_large']);
    const badVariants = await tusUser.create(1000, { filename: 'a.jpg', variants: '[{"name":"BAD"}]' });
    expect([badVariants.status, badVariants.body.error.code]).toEqual([400, 'invalid_request']);
    const empty = await tusUser.create(0, { filename: 'a.jpg' });
    expect(empty.status).toBe(400);
    const deferred = await fetch(`${t.url}/v1/uploads`, { method: 'POST', headers: user.headers({ 'tus-resumable': '1.0.0', 'upload-defer-length': '1' }) });
    expect(deferred.status).toBe(400);
    expect(listFiles(uploadsDir())).toEqual(before);
  });

  it('answers 429 with Retry-After when the queue is full, and 507 when the disk reserve would be crossed', async () => {
    const full = await startTestServer({ config: { minFreeBytes: '1000TB' } });
    try {
      const res = await new TusClient(full.admin).create(1000, { filename: 'a.jpg' });
      expect([res.status, res.body.error.code]).toEqual([507, 'insufficient_storage']);
    } finally {
      await full.close();
    }
    const busy = await startTestServer({ config: { maxQueuedJobs: '2' } });
    try {
      await busy.server.parts.runner.stop(0); // nothing runs, so the queue only grows
      expect((await busy.admin.upload([{ name: 'a.jpg', data: fixture('imaginary-medium.jpg') }])).status).toBe(202);
      const res = await new TusClient(busy.admin).create(1000, { filename: 'b.jpg' });
      expect(res.status).toBe(429);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(res.body.error.code).toBe('too_many_requests');
    } finally {
      await busy.close();
    }
  });

  it('keeps uploads private: another customer gets 404, a business key 403, no key 401', async () => {
    const { location } = await tusUser.create(1000, { filename: 'mine.jpg' });
    const other = new TusClient(await t.client('user', 'globex'));
    expect((await other.head(location!)).status).toBe(404);
    expect((await other.patch(location!, 0, Buffer.alloc(10))).status).toBe(404);
    expect((await other.delete(location!)).status).toBe(404);
    const business = new TusClient(await t.client('business', 'acme'));
    expect((await business.create(1000)).status).toBe(403);
    const anonymous = await fetch(`${t.url}${location}`, { method: 'HEAD', headers: { 'tus-resumable': '1.0.0' } });
    expect(anonymous.status).toBe(401);
    // The owner may end it; its record and bytes go.
    expect((await tusUser.delete(location!)).status).toBe(204);
    expect((await tusUser.head(location!)).status).toBe(404);
  });

  it("answers the protocol's own errors in the API's error form, with the tus headers kept", async () => {
    const { location } = await tusUser.create(1000, { filename: 'form.png' });
    const expectApiError = async (res: Response, status: number, code: string) => {
      const body = (await res.json()) as { error: { code: string; message: string; requestId: string } };
      expect({ status: res.status, code: body.error?.code, type: res.headers.get('content-type') }).toEqual({
        status,
        code,
        type: 'application/json; charset=utf-8',
      });
      expect(body.error.message).toBeTruthy();
      expect(body.error.requestId).toBe(res.headers.get('x-request-id'));
      return body;
    };
    // No Tus-Resumable header: tus answers 412 itself.
    await expectApiError(await fetch(`${t.url}${location}`, { method: 'PATCH', headers: user.headers({ 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }), body: 'x' }), 412, 'precondition_failed');
    // An offset other than where the bytes end: 409, and the answer still says it is tus.
    const conflict = await fetch(`${t.url}${location}`, {
      method: 'PATCH',
      headers: user.headers({ 'tus-resumable': '1.0.0', 'upload-offset': '10', 'content-type': 'application/offset+octet-stream' }),
      body: Buffer.alloc(10),
    });
    expect(conflict.headers.get('tus-resumable')).toBe('1.0.0');
    await expectApiError(conflict, 409, 'conflict');
    // A PATCH without the tus content type, or without an offset.
    await expectApiError(await fetch(`${t.url}${location}`, { method: 'PATCH', headers: user.headers({ 'tus-resumable': '1.0.0', 'upload-offset': '0' }), body: 'x' }), 400, 'invalid_request');
    await expectApiError(await fetch(`${t.url}${location}`, { method: 'PATCH', headers: user.headers({ 'tus-resumable': '1.0.0', 'content-type': 'application/offset+octet-stream' }), body: 'x' }), 400, 'invalid_request');
    // A malformed header value, an upload that does not exist, an extension not offered.
    await expectApiError(await fetch(`${t.url}${location}`, { method: 'PATCH', headers: user.headers({ 'tus-resumable': '1.0.0', 'upload-offset': 'soon', 'content-type': 'application/offset+octet-stream' }), body: 'x' }), 400, 'invalid_request');
    await expectApiError(await fetch(`${t.url}/v1/uploads/${'0'.repeat(32)}`, { method: 'PATCH', headers: user.headers({ 'tus-resumable': '1.0.0', 'upload-offset': '0', 'content-type': 'application/offset+octet-stream' }), body: 'x' }), 404, 'not_found');
    const concat = await fetch(`${t.url}/v1/uploads`, { method: 'POST', headers: user.headers({ 'tus-resumable': '1.0.0', 'upload-length': '10', 'upload-concat': 'partial' }) });
    await expectApiError(concat, 501, 'not_implemented');
  });

  it('ignores server-side metadata a client tries to set', async () => {
    const original = fixture('imaginary-medium.jpg');
    const { location } = await tusUser.create(original.length, { filename: 'x.jpg', 'darkroom-image-id': 'forged', 'darkroom-customer': 'globex' });
    const head = await tusUser.head(location!);
    expect([head.status, head.offset, head.headers.get('darkroom-image-id')]).toEqual([200, 0, null]);
    const res = await tusUser.patch(location!, 0, original);
    const done = await user.waitFor(res.headers.get('darkroom-image-id')!);
    expect(done.customer).toBe('acme');
  });
});

async function waitUntil(check: () => Promise<boolean>, timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Uploads nobody finishes do not stay forever.
describe('abandoned resumable uploads', () => {
  it('are removed by the sweep once untouched for a day', async () => {
    const { location } = await tusUser.create(5000, { filename: 'left.jpg' });
    await tusUser.patch(location!, 0, fixture('imaginary-medium.jpg').subarray(0, 2000));
    const id = location!.split('/').pop()!;
    expect(listFiles(uploadsDir())).toContain(id);
    const uploads = t.server.parts.uploads;
    expect(await uploads.sweep()).toBe(0);
    const dayAgo = new Date(Date.now() - 25 * 3600e3);
    for (const f of [id, `${id}.json`]) fs.utimesSync(path.join(uploadsDir(), f), dayAgo, dayAgo);
    expect(await uploads.sweep()).toBeGreaterThanOrEqual(1);
    expect(listFiles(uploadsDir()).filter((f) => f.startsWith(id))).toEqual([]);
  });
});
