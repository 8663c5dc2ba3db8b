/**
 * Signed links (CONTRACT §10): made by whoever may read the image, loaded by anyone without a
 * key, refused when changed in any way (403), after their life (410) and once the image is gone
 * (404); answered from render's cache with Cache-Control: public bounded by the link's life.
 * Real servers, real sharp, restarts on the same data dir (and, with DARKROOM_TEST_DATABASE=postgres,
 * the same database) for the keys.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../../server/util/clock.js';
import { fixture } from '../helpers/images.js';
import { startTestServer, tempDirs, type ApiClient, type TestServer } from '../helpers/server.js';

const JPEG = fixture('imaginary-medium.jpg');
const OLD_KEY = 'old-signing-key-0123456789abcdefghijklmnop';
const NEW_KEY = 'new-signing-key-0123456789abcdefghijklmnop';
const dir = tempDirs('darkroom-links-');

let t: TestServer;
let user: ApiClient;
let other: ApiClient;
let imageId: string;

/** A GET without any key, as a browser loading an <img> does. */
const load = (url: string, headers: Record<string, string> = {}) => fetch(url, { headers: { accept: 'image/avif,image/webp,*/*', ...headers } });

async function uploadAs(client: ApiClient): Promise<string> {
  const res = await client.upload([{ name: 'photo.jpg', data: JPEG, type: 'image/jpeg' }]);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id as string;
}

async function linkFor(client: ApiClient, id: string, body: Record<string, unknown> = {}) {
  const res = await client.json('POST', `/v1/image/${id}/links`, body);
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { url: string; expiresAt: string };
}

/** The link with one query parameter set (or removed, with undefined). */
function withParam(url: string, name: string, value: string | undefined): string {
  const u = new URL(url);
  if (value === undefined) u.searchParams.delete(name);
  else u.searchParams.set(name, value);
  return u.toString();
}

const errorCodeOf = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

beforeAll(async () => {
  t = await startTestServer();
  user = await t.client('user', 'acme');
  other = await t.client('user', 'globex');
  imageId = await uploadAs(user);
});
afterAll(async () => {
  await t?.close();
});

describe('creating a link', () => {
  it('answers 201 with an absolute URL (the request\'s origin) that expires in 7 days by default', async () => {
    const before = Date.now();
    const link = await linkFor(user, imageId, { params: { w: 200, format: 'webp' } });
    const after = Date.now();
    const url = new URL(link.url);
    expect(url.origin).toBe(t.url);
    expect(url.pathname).toBe(`/v1/image/${imageId}/render`);
    expect([...url.searchParams.keys()]).toEqual(['expires', 'format', 'w', 'sig']);
    expect(Number(url.searchParams.get('expires')) * 1000).toBe(Date.parse(link.expiresAt));
    // Whole seconds: at most a second short of 7 days after the request was answered, and never past 7 days after it was sent.
    expect(Date.parse(link.expiresAt)).toBeGreaterThan(before + 7 * 86_400_000 - 1_000);
    expect(Date.parse(link.expiresAt)).toBeLessThanOrEqual(after + 7 * 86_400_000);
  });

  it('is for whoever may read the image: another customer gets 404, an admin may', async () => {
    const res = await other.json('POST', `/v1/image/${imageId}/links`, {});
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
    expect((await t.admin.json('POST', `/v1/image/${imageId}/links`, {})).status).toBe(201);
    expect((await user.json('POST', '/v1/image/0193a5c2-7d1e-7b8a-9c4d-2e5f6a7b8c9d/links', {})).status).toBe(404);
    const business = await t.client('business', 'acme');
    expect((await business.json('POST', `/v1/image/${imageId}/links`, {})).status).toBe(403);
  });

  it.each([
    [{ expiresIn: '366d' }, /expiresIn: 366d is longer than the longest life of a link, 365d/],
    [{ expiresIn: 'soon' }, /^expiresIn: a duration like/],
    [{ expiresIn: '0d' }, /^expiresIn: a duration like/],
    [{ params: { w: 0 } }, /^params: w: /],
    [{ params: { w: 9000 } }, /^params: w: /],
    [{ params: { fit: 'stretch' } }, /^params: fit: /],
    [{ params: { width: 10 } }, /^params: unknown parameter "width"/],
    [{ params: { w: 100, h: 100, fit: 'contain', position: 'entropy' } }, /^params: position entropy picks what a crop keeps: only with fit cover/],
    [{ params: { w: 5000, dpr: 2 } }, /^params: w: 5000 × dpr 2 = 10000 pixels is over the limit of 8192 pixels a side/],
    [{ params: { sig: 'x' } }, /^params\.sig: not a render parameter/],
    [{ params: { expires: '1' } }, /^params\.expires: not a render parameter/],
    [{ params: { preset: 'card' } }, /^params\.preset: not a render parameter/],
    [{ preset: 'no-such-preset' }, /^preset: no preset "no-such-preset"/],
    [{ preset: 'Bad_Name' }, /^preset: 1–40 lower-case/],
    [{ lifetime: '1d' }, /unknown field "lifetime"/],
  ])('refuses %j with 400 naming the problem', async (body, message) => {
    const res = await user.json('POST', `/v1/image/${imageId}/links`, body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(res.body.error.message).toMatch(message);
  });

  it('takes --public-url for the link\'s origin', async () => {
    const p = await startTestServer({ config: { publicUrl: 'https://img.example.com/' } });
    try {
      const id = await uploadAs(p.admin);
      const link = await linkFor(p.admin, id, { params: { w: 10 } });
      expect(link.url.startsWith(`https://img.example.com/v1/image/${id}/render?`)).toBe(true);
      // The same link works at this server's own address: only the path and the query are signed.
      const res = await load(link.url.replace('https://img.example.com', p.url));
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    } finally {
      await p.close();
    }
  });
});

describe('loading a link', () => {
  it('needs no key, renders as render does, and is served from render\'s cache (miss, then hit, ETag, 304)', async () => {
    const link = await linkFor(user, imageId, { params: { w: 240, h: 160, fit: 'cover', format: 'webp', q: 60 } });
    const first = await load(link.url);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('image/webp');
    const body = Buffer.from(await first.arrayBuffer());
    expect(Number(first.headers.get('content-length'))).toBe(body.length);

    // The same render asked with a key: the same cache entry, the same bytes and ETag.
    const keyed = await user.request('GET', `/v1/image/${imageId}/render?w=240&h=160&fit=cover&format=webp&q=60`);
    expect(keyed.status).toBe(200);
    expect(keyed.headers.get('darkroom-cache')).toBe('hit');
    expect(keyed.headers.get('etag')).toBe(first.headers.get('etag'));
    expect(Buffer.from(await keyed.arrayBuffer()).equals(body)).toBe(true);

    const again = await load(link.url);
    expect(again.headers.get('darkroom-cache')).toBe('hit');
    expect(Buffer.from(await again.arrayBuffer()).equals(body)).toBe(true);

    const notModified = await load(link.url, { 'if-none-match': first.headers.get('etag')! });
    expect(notModified.status).toBe(304);
    expect(notModified.headers.get('cache-control')).toMatch(/^public, max-age=\d+$/);
  });

  it('renders a preset as it was when the link was made, whatever happens to the preset after', async () => {
    expect((await t.admin.json('PUT', '/v1/presets/link-card', { w: 120, h: 120, fit: 'cover', format: 'png' })).status).toBe(200);
    const link = await linkFor(user, imageId, { preset: 'link-card', params: { w: 100 } });
    expect(new URL(link.url).searchParams.get('w')).toBe('100');
    expect(new URL(link.url).searchParams.get('preset')).toBeNull();
    expect((await t.admin.json('PUT', '/v1/presets/link-card', { w: 50, format: 'jpeg' })).status).toBe(200);
    expect((await t.admin.json('DELETE', '/v1/presets/link-card')).status).toBe(204);
    const res = await load(link.url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    const { default: sharp } = await import('sharp');
    expect(await sharp(Buffer.from(await res.arrayBuffer())).metadata()).toMatchObject({ width: 100, height: 120, format: 'png' });
  });

  it('answers Cache-Control: public with max-age within the link\'s remaining life', async () => {
    const link = await linkFor(user, imageId, { params: { w: 64 }, expiresIn: '90s' });
    const res = await load(link.url);
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const maxAge = Number(/^public, max-age=(\d+)$/.exec(res.headers.get('cache-control') ?? '')?.[1]);
    expect(maxAge).toBeGreaterThan(80);
    expect(maxAge).toBeLessThanOrEqual(90);
    // A render asked with a key stays private.
    const keyed = await user.request('GET', `/v1/image/${imageId}/render?w=64`);
    expect(keyed.headers.get('cache-control')).not.toMatch(/public/);
    await keyed.arrayBuffer();
  });

  it('answers any change with 403 forbidden: a parameter changed, added or removed, the expiry, the signature, the image', async () => {
    const link = await linkFor(user, imageId, { params: { w: 200, format: 'webp' } });
    const otherImage = await uploadAs(user);
    const sig = new URL(link.url).searchParams.get('sig')!;
    const tampered = [
      withParam(link.url, 'w', '201'),
      withParam(link.url, 'w', undefined),
      withParam(link.url, 'format', 'png'),
      withParam(link.url, 'h', '10'),
      withParam(link.url, 'dpr', '2'),
      withParam(link.url, 'expires', String(Number(new URL(link.url).searchParams.get('expires')) + 1)),
      withParam(link.url, 'expires', undefined),
      withParam(link.url, 'sig', `${sig[0] === 'A' ? 'B' : 'A'}${sig.slice(1)}`),
      withParam(link.url, 'sig', ''),
      `${link.url}&w=200`,
      link.url.replace(imageId, otherImage),
    ];
    for (const url of tampered) {
      const res = await load(url);
      expect(res.status, url).toBe(403);
      expect(await errorCodeOf(res)).toBe('forbidden');
    }
    // The untouched link still works.
    const ok = await load(link.url);
    expect(ok.status).toBe(200);
    await ok.arrayBuffer();
  });

  it('authorises nothing but that GET of that render: other routes and methods still need a key', async () => {
    const link = await linkFor(user, imageId, { params: { w: 200 } });
    const query = new URL(link.url).search;
    for (const path of [`/v1/image/${imageId}`, `/v1/image/${imageId}/download`, `/v1/image/${imageId}/metadata`, '/v1/images', `/v1/image/${imageId}/render/`]) {
      const res = await fetch(`${t.url}${path}${query}`);
      expect(res.status, path).toBe(401);
      await res.arrayBuffer();
    }
    for (const method of ['POST', 'DELETE', 'PUT']) {
      const res = await fetch(link.url, { method });
      expect(res.status, method).toBe(401);
      await res.arrayBuffer();
    }
    expect((await user.json('GET', `/v1/image/${imageId}`)).status).toBe(200);
  });

  it('answers 404 once the image is deleted, and the link never works again (not even for the same bytes uploaded again)', async () => {
    const id = await uploadAs(user);
    const link = await linkFor(user, id, { params: { w: 100 } });
    const before = await load(link.url);
    expect(before.status).toBe(200);
    await before.arrayBuffer();
    expect((await user.request('DELETE', `/v1/image/${id}`)).status).toBe(204);
    const after = await load(link.url);
    expect(after.status).toBe(404);
    expect(await errorCodeOf(after)).toBe('not_found');
    await uploadAs(user);
    const again = await load(link.url);
    expect(again.status).toBe(404);
    await again.arrayBuffer();
  });
});

describe('a link\'s life', () => {
  it('ends at expiresAt: 410 expired after, and max-age never reaches past it', async () => {
    const clock = createManualClock();
    const s = await startTestServer({ clock, config: { processedTtl: '1h' } });
    try {
      const id = await uploadAs(s.admin);
      const link = await linkFor(s.admin, id, { params: { w: 80 }, expiresIn: '2h' });
      const fresh = await load(link.url);
      expect(fresh.status).toBe(200);
      // The cached render expires before the link (--processed-ttl 1h): max-age is bounded by it.
      expect(Number(/max-age=(\d+)/.exec(fresh.headers.get('cache-control') ?? '')?.[1])).toBeLessThanOrEqual(3600);
      await fresh.arrayBuffer();

      clock.advance(2 * 3_600_000 - 10_000);
      const late = await load(link.url);
      expect(late.status).toBe(200);
      expect(Number(/max-age=(\d+)/.exec(late.headers.get('cache-control') ?? '')?.[1])).toBeLessThanOrEqual(10);
      await late.arrayBuffer();

      clock.advance(10_000);
      const expired = await load(link.url);
      expect(expired.status).toBe(410);
      expect(await errorCodeOf(expired)).toBe('expired');
      // A changed link is 403 whatever its age: the signature is judged first.
      const changed = await load(withParam(link.url, 'w', '81'));
      expect(changed.status).toBe(403);
      await changed.arrayBuffer();
    } finally {
      await s.close();
    }
  });
});

describe('signing keys', () => {
  it('keep links working across a rotation: new,old verifies old links and signs with new; new alone refuses old links', async () => {
    const dataDir = dir();
    let s = await startTestServer({ dataDir, config: { urlSigningKeys: OLD_KEY } });
    const id = await uploadAs(s.admin);
    const oldLink = await linkFor(s.admin, id, { params: { w: 50 } });
    await s.close();

    s = await startTestServer({ dataDir, config: { urlSigningKeys: `${NEW_KEY},${OLD_KEY}` } });
    let res = await load(oldLink.url.replace(/^http:\/\/[^/]+/, s.url));
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    const newLink = await linkFor(s.admin, id, { params: { w: 50 } });
    expect(new URL(newLink.url).searchParams.get('sig')).not.toBe(new URL(oldLink.url).searchParams.get('sig'));
    await s.close();

    s = await startTestServer({ dataDir, config: { urlSigningKeys: NEW_KEY } });
    try {
      res = await load(newLink.url.replace(/^http:\/\/[^/]+/, s.url));
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      res = await load(oldLink.url.replace(/^http:\/\/[^/]+/, s.url));
      expect(res.status).toBe(403);
      expect(await errorCodeOf(res)).toBe('forbidden');
    } finally {
      await s.close();
    }
  });

  it('without --url-signing-keys: a key generated once and kept in the database, so links outlive a restart', async () => {
    const dataDir = dir();
    let s = await startTestServer({ dataDir });
    const id = await uploadAs(s.admin);
    const link = await linkFor(s.admin, id, { params: { w: 40 } });
    await s.close();
    s = await startTestServer({ dataDir });
    try {
      const res = await load(link.url.replace(/^http:\/\/[^/]+/, s.url));
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      // Given keys replace the kept one: its links are refused then.
      await s.close();
      s = await startTestServer({ dataDir, config: { urlSigningKeys: NEW_KEY } });
      const refused = await load(link.url.replace(/^http:\/\/[^/]+/, s.url));
      expect(refused.status).toBe(403);
      await refused.arrayBuffer();
    } finally {
      await s.close();
    }
  });
});
