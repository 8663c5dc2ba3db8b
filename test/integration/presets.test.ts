/**
 * Presets (CONTRACT §10): role admin, names [a-z0-9-]{1,40}, values judged as render parameters
 * (output caps included), one list for the installation.
 */
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, fixture } from '../helpers/images.js';
import { startTestServer, type ApiClient, type TestServer } from '../helpers/server.js';
import { TusClient } from '../helpers/tus.js';

let t: TestServer;
let user: ApiClient;
let business: ApiClient;
let otherAdmin: ApiClient;

beforeAll(async () => {
  t = await startTestServer();
  user = await t.client('user', 'acme');
  business = await t.client('business', 'acme');
  otherAdmin = await t.client('admin', 'globex');
});
afterAll(async () => {
  await t?.close();
});

describe('presets', () => {
  it('are created, replaced, listed by name and deleted by an admin', async () => {
    const card = await t.admin.json('PUT', '/v1/presets/card', { w: 480, h: 320, fit: 'cover', position: 'attention', format: 'webp', q: 70 });
    expect(card.status, JSON.stringify(card.body)).toBe(200);
    expect(card.body).toMatchObject({ name: 'card', w: 480, h: 320, fit: 'cover', position: 'attention', format: 'webp', q: 70 });
    expect(card.body.createdAt).toBe(card.body.updatedAt);

    // Replacing takes the new values whole: what is left out is no longer set.
    const replaced = await t.admin.json('PUT', '/v1/presets/card', { w: 600, format: 'avif' });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toEqual({ name: 'card', w: 600, format: 'avif', createdAt: card.body.createdAt, updatedAt: replaced.body.updatedAt });

    expect((await t.admin.json('PUT', '/v1/presets/a-1', {})).status).toBe(200);
    const list = await t.admin.json('GET', '/v1/presets');
    expect(list.status).toBe(200);
    expect(list.body.items.map((p: { name: string }) => p.name)).toEqual(['a-1', 'card']);

    // One list for the installation: another customer's admin sees and manages the same presets.
    expect((await otherAdmin.json('GET', '/v1/presets')).body.items.map((p: { name: string }) => p.name)).toEqual(['a-1', 'card']);
    expect((await otherAdmin.json('DELETE', '/v1/presets/a-1')).status).toBe(204);

    const gone = await t.admin.json('DELETE', '/v1/presets/a-1');
    expect(gone.status).toBe(404);
    expect(gone.body.error.code).toBe('not_found');
    expect((await t.admin.json('GET', '/v1/presets')).body.items.map((p: { name: string }) => p.name)).toEqual(['card']);
  });

  it('are for admin keys only: other roles get 403, no key 401', async () => {
    for (const client of [user, business]) {
      for (const [method, path, body] of [
        ['GET', '/v1/presets', undefined],
        ['PUT', '/v1/presets/x', { w: 10 }],
        ['DELETE', '/v1/presets/card', undefined],
      ] as const) {
        const res = await client.json(method, path, body);
        expect(res.status, `${method} ${path}`).toBe(403);
        expect(res.body.error.code).toBe('forbidden');
      }
    }
    const res = await fetch(`${t.url}/v1/presets`);
    expect(res.status).toBe(401);
    await res.body?.cancel();
  });

  it.each([
    ['/v1/presets/Card', { w: 10 }, /name: 1–40 lower-case/],
    ['/v1/presets/' + 'a'.repeat(41), { w: 10 }, /name: 1–40 lower-case/],
    ['/v1/presets/card_1', { w: 10 }, /name: 1–40 lower-case/],
    ['/v1/presets/x', { w: 0 }, /^w: /],
    ['/v1/presets/x', { w: 8193 }, /^w: at most 8192 pixels a side/],
    ['/v1/presets/x', { h: 1.5 }, /^h: /],
    ['/v1/presets/x', { w: '480' }, /^w: /],
    ['/v1/presets/x', { fit: 'stretch' }, /^fit: /],
    ['/v1/presets/x', { position: 'middle' }, /^position: /],
    ['/v1/presets/x', { position: 'entropy' }, /^position entropy picks what a crop keeps: only with fit cover \(fit is inside\)$/],
    ['/v1/presets/x', { format: 'gif' }, /^format: /],
    ['/v1/presets/x', { q: 101 }, /^q: /],
    ['/v1/presets/x', { dpi: 2 }, /unknown field "dpi"/],
    ['/v1/presets/x', { w: 8000, h: 8000 }, /64000000 pixels is over the limit of 40000000/],
    ['/v1/presets/x', { w: 4000, h: 4000, format: 'avif' }, /16000000 pixels is over the limit of 12000000 pixels for avif/],
  ])('refuses PUT %s %j with 400 naming the problem', async (path, body, message) => {
    const res = await t.admin.json('PUT', path, body);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(res.body.error.message).toMatch(message);
    expect((await t.admin.json('GET', '/v1/presets')).body.items.map((p: { name: string }) => p.name)).not.toContain('x');
  });

  it('refuses a body that is not JSON with 400', async () => {
    const res = await t.admin.request('PUT', '/v1/presets/x', { body: '{"w":', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_request');
  });
});

/** 970×644 JPEG. */
const PHOTO = 'imaginary-medium.jpg';

async function render(client: ApiClient, id: string, query: string) {
  const res = await client.request('GET', `/v1/image/${id}/render${query}`);
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

async function uploadPhoto(client: ApiClient, query = ''): Promise<string> {
  const res = await client.upload([{ name: 'photo.jpg', data: fixture(PHOTO), type: 'image/jpeg' }], {}, query);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id as string;
}

describe('a preset as the render parameter preset=NAME', () => {
  let id: string;
  beforeAll(async () => {
    expect((await t.admin.json('PUT', '/v1/presets/thumb-sq', { w: 200, h: 200, fit: 'cover', position: 'attention', format: 'webp', q: 60 })).status).toBe(200);
    id = await uploadPhoto(user);
  });

  it('renders exactly as its parameters given in the query (the same cache entry: the same ETag and bytes)', async () => {
    const byPreset = await render(user, id, '?preset=thumb-sq');
    expect(byPreset.status).toBe(200);
    expect(byPreset.headers.get('content-type')).toBe('image/webp');
    const byHand = await render(user, id, '?w=200&h=200&fit=cover&position=attention&format=webp&q=60');
    expect(byHand.headers.get('darkroom-cache')).toBe('hit');
    expect(byHand.headers.get('etag')).toBe(byPreset.headers.get('etag'));
    expect(byHand.body.equals(byPreset.body)).toBe(true);
    expect(await sharp(byPreset.body).metadata()).toMatchObject({ width: 200, height: 200, format: 'webp' });
  });

  it('is overridden by the parameters given beside it, and read at each request', async () => {
    const wider = await render(user, id, '?preset=thumb-sq&w=300&format=png');
    expect(wider.status).toBe(200);
    expect(wider.headers.get('content-type')).toBe('image/png');
    expect(await sharp(wider.body).metadata()).toMatchObject({ width: 300, height: 200 });
    expect(wider.headers.get('etag')).toBe((await render(user, id, '?w=300&h=200&fit=cover&position=attention&format=png&q=60')).headers.get('etag'));

    expect((await t.admin.json('PUT', '/v1/presets/thumb-later', { w: 100, format: 'jpeg' })).status).toBe(200);
    const before = await render(user, id, '?preset=thumb-later');
    expect(await sharp(before.body).metadata()).toMatchObject({ width: 100, format: 'jpeg' });
    expect((await t.admin.json('PUT', '/v1/presets/thumb-later', { w: 150, format: 'jpeg' })).status).toBe(200);
    const after = await render(user, id, '?preset=thumb-later');
    expect(await sharp(after.body).metadata()).toMatchObject({ width: 150, format: 'jpeg' });
    expect(after.headers.get('etag')).not.toBe(before.headers.get('etag'));
  });

  it('answers 400 for an unknown or malformed preset, and for a combination the preset and the query make that render refuses', async () => {
    for (const [query, message] of [
      ['?preset=nope', /^preset: no preset "nope"/],
      ['?preset=No_Such', /^preset: 1–40 lower-case/],
      ['?preset=thumb-sq&fit=inside', /^position attention picks what a crop keeps: only with fit cover/],
    ] as const) {
      const res = await render(user, id, query);
      expect(res.status, query).toBe(400);
      const error = JSON.parse(res.body.toString()).error;
      expect(error.code).toBe('invalid_request');
      expect(error.message).toMatch(message);
    }
  });
});

describe('a preset as an upload variant', () => {
  const CARD = { w: 320, h: 180, fit: 'cover', position: 'attention', format: 'webp', q: 65 } as const;
  const variants = JSON.stringify([{ name: 'card', preset: 'card-v' }, { name: 'mini', width: 40, format: 'png' }]);
  beforeAll(async () => {
    expect((await t.admin.json('PUT', '/v1/presets/card-v', CARD)).status).toBe(200);
  });

  /** The card variant of an image, once processed, byte for byte the render of the preset's parameters. */
  async function expectCardEqualsRender(client: ApiClient, id: string) {
    const record = await client.waitFor(id);
    expect(record.status).toBe('done');
    expect(record.variants.map((v: { name: string; format: string; width: number; height: number }) => [v.name, v.format, v.width, v.height])).toEqual([
      ['card', 'webp', 320, 180],
      ['mini', 'png', 40, 27],
    ]);
    const variant = await client.download(id, 'card');
    expect(variant.status).toBe(200);
    const rendered = await render(client, id, '?w=320&h=180&fit=cover&position=attention&format=webp&q=65');
    expect(rendered.status).toBe(200);
    expect(rendered.body.equals(variant.body)).toBe(true);
    return variant.body;
  }

  it('multipart (form field and query) and raw body: resolved into the variant a render of the preset makes, byte for byte', async () => {
    const viaForm = await user.upload([{ name: 'a.jpg', data: fixture(PHOTO), type: 'image/jpeg' }], { variants });
    expect(viaForm.status, JSON.stringify(viaForm.body)).toBe(202);
    await expectCardEqualsRender(user, viaForm.body.id);

    const viaQuery = await uploadPhoto(user, `?variants=${encodeURIComponent(variants)}`);
    await expectCardEqualsRender(user, viaQuery);

    const res = await user.request('POST', `/v1/image?variants=${encodeURIComponent(variants)}`, {
      body: fixture(PHOTO),
      headers: { 'content-type': 'image/jpeg', 'x-filename': 'raw.jpg' },
    });
    expect(res.status).toBe(202);
    await expectCardEqualsRender(user, ((await res.json()) as { id: string }).id);
  });

  it('tus metadata: resolved when the upload is created, so a preset changed before its last byte changes nothing', async () => {
    expect((await t.admin.json('PUT', '/v1/presets/card-tus', CARD)).status).toBe(200);
    const tus = new TusClient(user);
    const data = fixture(PHOTO);
    const created = await tus.create(data.length, { filename: 'tus.jpg', variants: JSON.stringify([{ name: 'card', preset: 'card-tus' }, { name: 'mini', width: 40, format: 'png' }]) });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    expect((await t.admin.json('DELETE', '/v1/presets/card-tus')).status).toBe(204);
    const done = await tus.patch(created.location!, 0, data);
    expect(done.status, JSON.stringify(done.body)).toBe(204);
    await expectCardEqualsRender(user, done.headers.get('darkroom-image-id')!);

    const refused = await tus.create(data.length, { filename: 'x.jpg', variants: JSON.stringify([{ name: 'card', preset: 'card-tus' }]) });
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toMatch(/^variants\[0\]\.preset: no preset "card-tus"/);
  });

  it('import by path', async () => {
    const res = await t.admin.json('POST', '/v1/image/import', { paths: [path.join(FIXTURES, PHOTO)], variants: JSON.parse(variants) });
    expect(res.status, JSON.stringify(res.body)).toBe(202);
    await expectCardEqualsRender(t.admin, res.body.id);
  });

  it('keeps what the preset was at upload time: changing or deleting it later changes nothing, not even on reprocess', async () => {
    expect((await t.admin.json('PUT', '/v1/presets/card-kept', CARD)).status).toBe(200);
    const id = await uploadPhoto(user, `?variants=${encodeURIComponent(JSON.stringify([{ name: 'card', preset: 'card-kept' }, { name: 'mini', width: 40, format: 'png' }]))}`);
    const before = await expectCardEqualsRender(user, id);
    expect((await t.admin.json('PUT', '/v1/presets/card-kept', { w: 50, format: 'jpeg' })).status).toBe(200);
    expect((await t.admin.json('DELETE', '/v1/presets/card-kept')).status).toBe(204);
    expect((await user.json('POST', `/v1/image/${id}/reprocess`)).status).toBe(202);
    expect((await expectCardEqualsRender(user, id)).equals(before)).toBe(true);
  });

  it('refuses, with 400 and nothing stored, an unknown preset and one without a fixed format', async () => {
    expect((await t.admin.json('PUT', '/v1/presets/any-format', { w: 100 })).status).toBe(200);
    const count = async () => (await user.json('GET', '/v1/images?limit=500')).body.items.length;
    const before = await count();
    for (const [list, message] of [
      [[{ name: 'card', preset: 'nope' }], /^variants\[0\]\.preset: no preset "nope"/],
      [[{ name: 'card', preset: 'any-format' }], /^variants\[0\]: preset "any-format" has format auto \(none given\), chosen per request from Accept/],
      [[{ name: 'card', preset: 'card-v', width: 10 }], /^variants\[0\]: unknown field "width"/],
    ] as const) {
      const res = await user.upload([{ name: 'a.jpg', data: fixture(PHOTO), type: 'image/jpeg' }], { variants: JSON.stringify(list) });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_request');
      expect(res.body.error.message).toMatch(message);
    }
    expect(await count()).toBe(before);
  });
});
