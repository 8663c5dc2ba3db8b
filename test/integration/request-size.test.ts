import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../helpers/images.js';
import { listFiles, startTestServer, type ApiClient, type TestServer } from '../helpers/server.js';

/*
 * --max-upload-bytes caps each file and the whole request body, chunked or not (CONTRACT §14):
 * many files each under the limit cannot together carry more than it.
 */

let t: TestServer;
let user: ApiClient;
const LIMIT = 1_000_000;

beforeAll(async () => {
  t = await startTestServer({ config: { maxUploadBytes: String(LIMIT) } });
  user = await t.client('user', 'acme');
});
afterAll(() => t.close());

/** A real JPEG padded to `bytes`: passes every check but its size. */
function paddedJpeg(bytes: number): Buffer {
  const jpeg = fixture('ipx-husky-snow.jpg');
  return Buffer.concat([jpeg, Buffer.alloc(Math.max(0, bytes - jpeg.length))]);
}

function multipart(files: Buffer[]): FormData {
  const form = new FormData();
  for (const [i, data] of files.entries()) form.append('image', new Blob([data], { type: 'image/jpeg' }), `part${i}.jpg`);
  return form;
}

/** The body as a stream: fetch sends it chunked, without Content-Length. */
async function chunked(body: FormData | Buffer): Promise<{ body: ReadableStream<Uint8Array>; contentType: string }> {
  const res = new Response(body);
  return { body: res.body!, contentType: res.headers.get('content-type') ?? 'image/jpeg' };
}

async function post(body: RequestInit["body"], headers: Record<string, string> = {}) {
  const res = await user.request('POST', '/v1/image', { body, headers, ...({ duplex: 'half' } as object) });
  return { status: res.status, body: (await res.json()) as any };
}

async function expectNothingLeft() {
  expect(listFiles(path.join(t.dataDir, 'tmp'))).toEqual([]);
  expect(listFiles(path.join(t.dataDir, 'originals'))).toEqual([]);
  const rows = t.server.parts.db.prepare('SELECT count(*) AS n FROM images').get() as { n: number };
  expect(rows.n).toBe(0);
}

describe('--max-upload-bytes caps the whole request body', () => {
  const threeUnderTheLimit = () => [paddedJpeg(600_000), paddedJpeg(600_000), paddedJpeg(600_000)];

  it('a multipart body of files each under the limit, together over it: 413 (by Content-Length)', async () => {
    const res = await post(multipart(threeUnderTheLimit()));
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
    await expectNothingLeft();
  });

  it('the same body sent chunked, without Content-Length: 413 while reading', async () => {
    const { body, contentType } = await chunked(multipart(threeUnderTheLimit()));
    const res = await post(body, { 'content-type': contentType });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
    await expectNothingLeft();
  });

  it('a chunked raw body over the limit: 413, nothing left', async () => {
    const { body } = await chunked(paddedJpeg(LIMIT + 300_000));
    const res = await post(body, { 'content-type': 'image/jpeg', 'x-filename': 'big.jpg' });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
    await expectNothingLeft();
  });

  it('files that together stay under the limit are accepted, chunked or not', async () => {
    const small = () => [paddedJpeg(300_000), paddedJpeg(300_000)];
    const plain = await post(multipart(small()));
    expect(plain.status).toBe(202);
    expect(plain.body).toHaveLength(2);
    const { body, contentType } = await chunked(multipart(small()));
    const streamed = await post(body, { 'content-type': contentType });
    expect(streamed.status).toBe(202);
    expect(streamed.body).toHaveLength(2);
  });
});
