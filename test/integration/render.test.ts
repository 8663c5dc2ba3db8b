import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, orientedJpeg, solid } from '../helpers/images.js';
import { previewJpeg, rawFixture, rawWithPreview, testExifTool } from '../helpers/raw.js';
import { listFiles, startTestServer, tempDirs, type ApiClient, type TestServer } from '../helpers/server.js';
import path from 'node:path';

/**
 * `GET /v1/image/{id}/render` (CONTRACT §10) on a real server: real sharp in the worker pool,
 * real HTTP, the stored renders in the data dir (or PostgreSQL's rows with
 * DARKROOM_TEST_DATABASE=postgres).
 */

const scratch = tempDirs('darkroom-render-');
let t: TestServer;
let alice: ApiClient;
let bob: ApiClient;
/** 3840×2160 JPEG, no alpha. */
let photo: string;
/** 400×300 PNG with alpha. */
let withAlpha: string;
/** A JPEG cut in half: accepted (its header is whole), never decodable. */
let broken: string;

async function upload(client: ApiClient, name: string, data: Buffer, type: string, query = '') {
  const res = await client.upload([{ name, data, type }], {}, query);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  return res.body.id as string;
}

beforeAll(async () => {
  t = await startTestServer();
  alice = await t.client('user', 'alice');
  bob = await t.client('user', 'bob');
  photo = await upload(alice, 'bliss.jpg', fixture('ipx-bliss.jpg'), 'image/jpeg');
  withAlpha = await upload(alice, 'test.png', fixture('imaginary-test.png'), 'image/png');
  const jpeg = fixture('ipx-husky-snow.jpg');
  broken = await upload(alice, 'broken.jpg', jpeg.subarray(0, Math.floor(jpeg.length / 2)), 'image/jpeg');
});
afterAll(() => t?.close());

export async function render(client: ApiClient, id: string, query: string, headers: Record<string, string> = {}, method = 'GET') {
  const res = await client.request(method, `/v1/image/${id}/render${query}`, { headers });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

/** The render answers counted by /metrics, by cache label. */
export async function renderCounts(server: TestServer): Promise<Record<'hit' | 'miss' | 'shared', number>> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const count = (label: string) => Number(new RegExp(`^darkroom_renders_total\\{[^}]*cache="${label}"[^}]*\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { hit: count('hit'), miss: count('miss'), shared: count('shared') };
}

const errorOf = (res: { body: Buffer }) => JSON.parse(res.body.toString()).error as { code: string; message: string };

describe('render: the parameters', () => {
  it('w alone keeps the proportion; the answer has its type, length, a strong ETag and Darkroom-Cache', async () => {
    const res = await render(alice, photo, '?w=1000&format=webp');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/webp');
    expect(Number(res.headers.get('content-length'))).toBe(res.body.length);
    expect(res.headers.get('etag')).toMatch(/^"[^"]+"$/);
    expect(res.headers.get('darkroom-cache')).toBe('miss');
    expect(res.headers.get('vary')).toBeNull();
    const meta = await sharp(res.body).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['webp', 1000, 562]);
  });

  it('h alone, and no size at all (the source size)', async () => {
    expect(await sharp((await render(alice, photo, '?h=270&format=jpeg')).body).metadata()).toMatchObject({ width: 480, height: 270, format: 'jpeg' });
    expect(await sharp((await render(alice, withAlpha, '?format=png')).body).metadata()).toMatchObject({ width: 400, height: 300, format: 'png' });
  });

  it('each fit gives its geometry', async () => {
    const size = async (fit: string) => {
      const res = await render(alice, photo, `?w=400&h=400&fit=${fit}&format=png`);
      expect(res.status).toBe(200);
      const m = await sharp(res.body).metadata();
      return [m.width, m.height];
    };
    expect(await size('cover')).toEqual([400, 400]);
    expect(await size('contain')).toEqual([400, 400]);
    expect(await size('fill')).toEqual([400, 400]);
    expect(await size('inside')).toEqual([400, 225]);
    expect(await size('outside')).toEqual([712, 400]);
  });

  it('each position crops another part (entropy and attention with cover)', async () => {
    const bodies = new Map<string, string>();
    for (const position of ['center', 'top', 'right', 'bottom', 'left', 'entropy', 'attention']) {
      const res = await render(alice, photo, `?w=300&h=300&fit=cover&position=${position}&format=png`);
      expect(res.status, position).toBe(200);
      bodies.set(position, res.body.toString('base64'));
    }
    // A landscape source cropped to a square: left, center and right differ; top and bottom
    // cut nothing off vertically, so they are the centre crop.
    expect(new Set([bodies.get('left'), bodies.get('center'), bodies.get('right')]).size).toBe(3);
    expect(bodies.get('top')).toBe(bodies.get('center'));
  });

  it('each format, and q changes the bytes', async () => {
    for (const [format, type] of [['webp', 'image/webp'], ['avif', 'image/avif'], ['jpeg', 'image/jpeg'], ['png', 'image/png']] as const) {
      const res = await render(alice, photo, `?w=200&format=${format}`);
      expect(res.headers.get('content-type'), format).toBe(type);
      expect((await sharp(res.body).metadata()).format).toBe(format === 'avif' ? 'heif' : format);
    }
    const low = await render(alice, photo, '?w=600&format=jpeg&q=20');
    const high = await render(alice, photo, '?w=600&format=jpeg&q=95');
    expect(low.body.length).toBeLessThan(high.body.length);
  });

  it('dpr multiplies w and h', async () => {
    const res = await render(alice, photo, '?w=200&h=100&fit=cover&dpr=2.5&format=webp');
    expect(await sharp(res.body).metadata()).toMatchObject({ width: 500, height: 250 });
  });

  it('never enlarges past the original', async () => {
    const res = await render(alice, withAlpha, '?w=800&format=png');
    expect(await sharp(res.body).metadata()).toMatchObject({ width: 400, height: 300 });
  });
});

describe('render: every kind of source', () => {
  it('an animated GIF renders animated as WebP (every frame), and as its first frame in the other formats', async () => {
    const id = await upload(alice, 'giphy.gif', fixture('ipx-giphy.gif'), 'image/gif');
    const webp = await render(alice, id, '?w=120&format=webp');
    expect(webp.status).toBe(200);
    const frames = (await sharp(fixture('ipx-giphy.gif')).metadata()).pages!;
    expect(frames).toBeGreaterThan(1);
    expect((await sharp(webp.body).metadata()).pages).toBe(frames);
    const png = await render(alice, id, '?w=120&format=png');
    expect((await sharp(png.body).metadata()).pages ?? 1).toBe(1);
  });

  it('an SVG renders as a raster image; an EXIF orientation is applied', async () => {
    const svg = await upload(alice, 'xss.svg', fixture('ipx-xss.svg'), 'image/svg+xml');
    const res = await render(alice, svg, '?w=64&format=png');
    expect(res.status).toBe(200);
    expect((await sharp(res.body).metadata()).format).toBe('png');
    const turned = await upload(alice, 'turned.jpg', await orientedJpeg(6, 300, 200), 'image/jpeg');
    // Stored 200×300 with orientation 6: it displays 300×200.
    expect(await sharp((await render(alice, turned, '?h=150&format=jpeg')).body).metadata()).toMatchObject({ width: 225, height: 150 });
  });

  it('a camera RAW renders from its embedded preview', async () => {
    const exiftool = testExifTool();
    let dng: Buffer;
    try {
      // Its preview is 600×400 upright; the RAW says orientation 6.
      dng = await rawWithPreview(exiftool, scratch(), { fixture: 'DNG.dng', tag: 'PreviewImage', orientation: 6, preview: await previewJpeg(6, 600, 400) });
    } finally {
      await exiftool.end();
    }
    const id = await upload(alice, 'DNG.dng', dng, 'application/octet-stream');
    await alice.waitFor(id);
    const res = await render(alice, id, '?w=300&format=jpeg');
    expect(res.status, res.body.toString()).toBe(200);
    expect(await sharp(res.body).metadata()).toMatchObject({ width: 300, height: 200 });
    // No size: the preview's size, well within the caps whatever the sensor's.
    expect(await sharp((await render(alice, id, '?format=jpeg')).body).metadata()).toMatchObject({ width: 600, height: 400 });
    // One without a usable preview has nothing to render from.
    const none = await upload(alice, 'Nikon.nef', rawFixture('Nikon.nef'), 'application/octet-stream');
    const refused = await render(alice, none, '?w=200&format=jpeg');
    expect(refused.status).toBe(422);
    expect(errorOf(refused).code).toBe('no_preview');
  });
});

describe('render: format=auto', () => {
  const formatFor = async (id: string, accept?: string) => {
    const res = await render(alice, id, '?w=100', accept ? { accept } : {});
    expect(res.status).toBe(200);
    expect(res.headers.get('vary')).toBe('Accept');
    return res.headers.get('content-type');
  };

  it('AVIF when Accept names image/avif, else WebP when it names image/webp', async () => {
    expect(await formatFor(photo, 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8')).toBe('image/avif');
    expect(await formatFor(photo, 'image/webp,*/*')).toBe('image/webp');
    // A format refused with q=0 is not named.
    expect(await formatFor(photo, 'image/avif;q=0, image/webp')).toBe('image/webp');
  });

  it('else PNG for a source with alpha and JPEG otherwise', async () => {
    expect(await formatFor(withAlpha, 'image/png,image/*;q=0.8')).toBe('image/png');
    expect(await formatFor(photo, 'image/png,image/*;q=0.8')).toBe('image/jpeg');
    expect(await formatFor(photo)).toBe('image/jpeg');
  });

  it('gives each format its own ETag', async () => {
    const avif = await render(alice, photo, '?w=100', { accept: 'image/avif' });
    const webp = await render(alice, photo, '?w=100', { accept: 'image/webp' });
    expect(avif.headers.get('etag')).not.toBe(webp.headers.get('etag'));
  });
});

describe('render: the cache', () => {
  it('serves a repeated request from the stored file (hit), byte for byte; HEAD answers the same headers', async () => {
    const first = await render(alice, photo, '?w=640&format=webp&q=61');
    expect(first.headers.get('darkroom-cache')).toBe('miss');
    const before = await renderCounts(t);
    const again = await render(alice, photo, '?w=640&format=webp&q=61');
    expect(again.headers.get('darkroom-cache')).toBe('hit');
    expect(again.body.equals(first.body)).toBe(true);
    expect(again.headers.get('etag')).toBe(first.headers.get('etag'));
    const head = await render(alice, photo, '?w=640&format=webp&q=61', {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(Number(head.headers.get('content-length'))).toBe(first.body.length);
    expect(head.headers.get('etag')).toBe(first.headers.get('etag'));
    const after = await renderCounts(t);
    expect(after.miss).toBe(before.miss);
    expect(after.hit).toBe(before.hit + 2);
  });

  it('names the same output by the same ETag however its parameters are written', async () => {
    const a = await render(alice, photo, '?w=320&format=webp');
    const b = await render(alice, photo, '?format=webp&fit=inside&dpr=1&position=center&w=320');
    const c = await render(alice, photo, '?w=160&dpr=2&format=webp');
    expect(b.headers.get('etag')).toBe(a.headers.get('etag'));
    expect(c.headers.get('etag')).toBe(a.headers.get('etag'));
    expect(b.headers.get('darkroom-cache')).toBe('hit');
    expect((await render(alice, photo, '?w=321&format=webp')).headers.get('etag')).not.toBe(a.headers.get('etag'));
  });

  it('answers If-None-Match with 304 without rendering, even when nothing is stored', async () => {
    const first = await render(alice, photo, '?w=333&format=jpeg');
    const etag = first.headers.get('etag')!;
    // Reprocessing drops the stored renders: a 200 now would have to render again.
    expect((await alice.json('POST', `/v1/image/${photo}/reprocess`)).status).toBe(202);
    const before = await renderCounts(t);
    const res = await render(alice, photo, '?w=333&format=jpeg', { 'if-none-match': etag });
    expect(res.status).toBe(304);
    expect(res.headers.get('etag')).toBe(etag);
    expect(res.body.length).toBe(0);
    expect(await renderCounts(t)).toEqual(before);
    // And a stale one is not matched.
    const fresh = await render(alice, photo, '?w=333&format=jpeg', { 'if-none-match': '"other"' });
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get('darkroom-cache')).toBe('miss');
    expect(fresh.body.equals(first.body)).toBe(true);
    await alice.waitFor(photo);
  });

  it('renders 20 identical requests arriving together once', async () => {
    const before = await renderCounts(t);
    const answers = await Promise.all(Array.from({ length: 20 }, () => render(alice, photo, '?w=1200&h=800&fit=cover&format=webp&q=73')));
    const after = await renderCounts(t);
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(new Set(answers.map((a) => a.body.toString('base64'))).size).toBe(1);
    expect(after.miss - before.miss).toBe(1);
    expect(after.shared - before.shared + after.hit - before.hit).toBe(19);
  });

  it('renders from the original whatever the processing status, the same bytes as an upload variant with the same parameters', async () => {
    const variants = JSON.stringify([
      { name: 'hero', width: 1200, height: 600, fit: 'cover', position: 'attention', format: 'webp', quality: 70 },
      { name: 'small', width: 200, format: 'jpeg' },
    ]);
    const id = await upload(alice, 'hero.jpg', fixture('ipx-bliss.jpg'), 'image/jpeg', `?variants=${encodeURIComponent(variants)}`);
    // Straight after the upload: queued or processing, the original is there.
    const early = await render(alice, id, '?w=64&format=png');
    expect(early.status).toBe(200);
    await alice.waitFor(id);
    const variant = await alice.download(id, 'hero');
    expect(variant.status).toBe(200);
    const rendered = await render(alice, id, '?w=1200&h=600&fit=cover&position=attention&format=webp&q=70');
    expect(rendered.status).toBe(200);
    expect(rendered.body.equals(variant.body)).toBe(true);
  });

  it('drops stored renders when the image is reprocessed or deleted: their files leave the store', async () => {
    const id = await upload(alice, 'gone.png', fixture('imaginary-test.png'), 'image/png');
    expect((await render(alice, id, '?w=50&format=webp')).status).toBe(200);
    const rendersOf = () => listFiles(path.join(t.dataDir, 'processed')).filter((f) => f.includes(id) && path.basename(f).startsWith('r-'));
    expect(rendersOf()).toHaveLength(1);
    await alice.waitFor(id);
    expect((await alice.json('POST', `/v1/image/${id}/reprocess`)).status).toBe(202);
    expect(rendersOf()).toHaveLength(0);
    expect((await render(alice, id, '?w=50&format=webp')).headers.get('darkroom-cache')).toBe('miss');
    expect(rendersOf()).toHaveLength(1);
    await alice.waitFor(id);
    expect((await alice.json('DELETE', `/v1/image/${id}`)).status).toBe(204);
    expect(rendersOf()).toHaveLength(0);
    const res = await render(alice, id, '?w=50&format=webp');
    expect(res.status).toBe(404);
    expect(errorOf(res).code).toBe('not_found');
  });
});

describe('render: refusals', () => {
  const refused = async (query: string, pattern: RegExp, id = photo) => {
    const res = await render(alice, id, query);
    expect(res.status, query).toBe(400);
    const error = errorOf(res);
    expect(error.code).toBe('invalid_request');
    expect(error.message, query).toMatch(pattern);
  };

  it('unknown parameters, and an unknown preset (presets themselves: presets.test.ts)', async () => {
    await refused('?width=100', /unknown parameter "width"/);
    await refused('?w=100&preset=card', /^preset: no preset "card"/);
  });

  it('values out of range or of the wrong kind, each naming its parameter', async () => {
    await refused('?w=0', /^w: /);
    await refused('?w=8193', /^w: .*8192/);
    await refused('?h=abc', /^h: /);
    await refused('?w=10.5', /^w: /);
    await refused('?fit=crop', /^fit: /);
    await refused('?position=middle', /^position: /);
    await refused('?format=gif', /^format: /);
    await refused('?q=0', /^q: /);
    await refused('?q=101', /^q: /);
    await refused('?dpr=5', /^dpr: /);
    await refused('?dpr=0.5', /^dpr: /);
  });

  it('entropy and attention only with cover; dpr past 8192 a side', async () => {
    await refused('?w=100&h=100&fit=contain&position=entropy', /position entropy .* only with fit cover/);
    await refused('?w=100&position=attention', /position attention .* only with fit cover/);
    await refused('?w=4000&dpr=3', /w: 4000 × dpr 3 = 12000 pixels is over the limit of 8192 pixels a side/);
  });

  it('an output over the format caps', async () => {
    await refused('?w=4000&h=4000&fit=fill&format=avif', /4000×4000 = 16000000 pixels is over the AVIF limit of 12000000/);
    await refused('?w=8000&h=8000&fit=cover&format=webp', /over the WebP limit of 16000000/);
  });

  it("another customer's image is 404, like one that does not exist", async () => {
    const res = await render(bob, photo, '?w=100');
    expect(res.status).toBe(404);
    expect(errorOf(res).code).toBe('not_found');
    expect((await render(alice, '00000000-0000-4000-8000-000000000000', '?w=100')).status).toBe(404);
  });

  it('an original that cannot be decoded is 422 corrupt_image, each time', async () => {
    for (let i = 0; i < 2; i++) {
      const res = await render(alice, broken, '?w=100&format=webp');
      expect(res.status).toBe(422);
      expect(errorOf(res).code).toBe('corrupt_image');
    }
  });
});

describe('render: --max-output-pixels', () => {
  let small: TestServer;
  afterAll(() => small?.close());

  it('an output over it is 400 naming the cap, also one whose size follows the source', async () => {
    small = await startTestServer({ config: { maxOutputPixels: '1000000' } });
    const user = await small.client('user', 'carol');
    const id = await upload(user, 'p.jpg', await solid(1600, 1200, 'jpeg'), 'image/jpeg');
    const over = await render(user, id, '?w=2000&h=1000&fit=cover&format=jpeg');
    expect(over.status).toBe(400);
    expect(errorOf(over).message).toMatch(/2000×1000 = 2000000 pixels is over the limit of 1000000 pixels \(--max-output-pixels\)/);
    const source = await render(user, id, '?format=jpeg');
    expect(source.status).toBe(400);
    expect(errorOf(source).message).toMatch(/1600×1200 = 1920000 pixels is over the limit of 1000000/);
    expect((await render(user, id, '?w=1000&format=jpeg')).status).toBe(200);
  });
});
