/** A render request made whole and named (services/render/render-request.ts), without a server. */
import { describe, expect, it } from 'vitest';
import { acceptedFormat, mergeParams, resolveRender, type RenderSource } from '../../server/services/render/render-request.js';

const source = (over: Partial<RenderSource> = {}): RenderSource => ({
  id: '00000000-0000-7000-8000-000000000001',
  sha256: 'ab'.repeat(32),
  width: 3000,
  height: 2000,
  frames: 1,
  hasAlpha: async () => false,
  ...over,
});
const MAX = 40_000_000;

describe('render requests', () => {
  it('reads Accept as CONTRACT §10 says: AVIF, then WebP; q=0 refuses; wildcards name nothing', () => {
    expect(acceptedFormat('image/avif,image/webp,*/*')).toBe('avif');
    expect(acceptedFormat('image/webp;q=0.9, image/avif;q=0.1')).toBe('avif');
    expect(acceptedFormat('IMAGE/WEBP')).toBe('webp');
    expect(acceptedFormat('image/avif;q=0,image/webp')).toBe('webp');
    expect(acceptedFormat('image/*,*/*;q=0.8')).toBeUndefined();
    expect(acceptedFormat(undefined)).toBeUndefined();
  });

  it('asks for the alpha only when auto falls back past AVIF and WebP', async () => {
    let asked = 0;
    const counting = source({ hasAlpha: async () => (asked++, true) });
    expect((await resolveRender({ w: 10 }, counting, 'image/webp', MAX)).format).toBe('webp');
    expect((await resolveRender({ w: 10, format: 'jpeg' }, counting, undefined, MAX)).format).toBe('jpeg');
    expect(asked).toBe(0);
    expect((await resolveRender({ w: 10 }, counting, 'image/png', MAX)).format).toBe('png');
    expect(asked).toBe(1);
  });

  it('names one output by one key however it is written, and different outputs by different keys', async () => {
    const key = async (params: Parameters<typeof resolveRender>[0], accept?: string, over?: Partial<RenderSource>) =>
      (await resolveRender(params, source(over), accept, MAX)).etag;
    const base = await key({ w: 300, format: 'webp' });
    expect(await key({ w: 300, format: 'webp', fit: 'inside', dpr: 1, position: 'center' })).toBe(base);
    expect(await key({ w: 150, dpr: 2, format: 'webp' })).toBe(base);
    // auto that comes to WebP is the WebP render.
    expect(await key({ w: 300 }, 'image/webp')).toBe(base);
    // A position that crops nothing (inside) changes nothing.
    expect(await key({ w: 300, format: 'webp', position: 'left' })).toBe(base);
    for (const other of [{ w: 301, format: 'webp' }, { w: 300, format: 'png' }, { w: 300, format: 'webp', q: 80 }, { w: 300, h: 300, fit: 'cover', format: 'webp' }] as const) {
      expect(await key(other), JSON.stringify(other)).not.toBe(base);
    }
    expect(await key({ w: 300, format: 'webp' }, undefined, { sha256: 'cd'.repeat(32) })).not.toBe(base);
    expect(await key({ w: 300, format: 'webp' }, undefined, { id: '00000000-0000-7000-8000-000000000002' })).not.toBe(base);
  });

  it('merges a base (a preset) under the parameters given', () => {
    expect(mergeParams({ w: 480, h: 320, fit: 'cover', format: 'webp', q: 70 }, { w: 960, q: undefined })).toEqual({ w: 960, h: 320, fit: 'cover', format: 'webp', q: 70 });
  });

  it('refuses what cannot be made, naming it', async () => {
    await expect(resolveRender({ w: 10, position: 'entropy' }, source(), undefined, MAX)).rejects.toThrow(/position entropy .* only with fit cover/);
    await expect(resolveRender({ w: 3000, dpr: 3 }, source(), undefined, MAX)).rejects.toThrow(/w: 3000 × dpr 3 = 9000 pixels/);
    await expect(resolveRender({}, source({ width: 8000, height: 6000 }), undefined, MAX)).rejects.toThrow(/8000×6000 = 48000000 pixels is over the limit of 40000000/);
    // An animation kept animated counts all its frames against the WebP cap.
    await expect(resolveRender({ w: 1000, format: 'webp' }, source({ width: 1000, height: 1000, frames: 20 }), undefined, MAX)).rejects.toThrow(/1000×1000 = 1000000 pixels × 20 frames is over the WebP limit/);
    await expect(resolveRender({ w: 1000, format: 'png' }, source({ width: 1000, height: 1000, frames: 20 }), undefined, MAX)).resolves.toBeDefined();
  });
});
