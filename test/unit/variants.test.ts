import { describe, expect, it } from 'vitest';
import { AppError } from '../../server/errors.js';
import { DEFAULT_VARIANTS, parseVariants as parseWith } from '../../server/services/variants.js';
import { MAX_OUTPUT_SIDE, maxPixelsFor, planOutput } from '../../workers/output-caps.js';
import type { VariantSpec } from '../../workers/types.js';
import type { PresetValues } from '../../server/api/index.js';

const MAX_OUTPUT_PIXELS = 40_000_000;
/** The presets the lookups below find: as the presets use case would answer. */
const PRESETS: Record<string, PresetValues> = {
  card: { w: 480, h: 320, fit: 'cover', format: 'webp', q: 70 },
  wide: { w: 8000, h: 6000, format: 'avif' },
  auto: { w: 100, format: 'auto' },
  unset: { w: 100 },
};
const lookup = async (name: string, where: string) => {
  const values = PRESETS[name];
  if (!values) throw new AppError('invalid_request', `${where}: no preset "${name}"`);
  return values;
};
const parseVariants = (raw: string | undefined) => parseWith(raw, { maxOutputPixels: MAX_OUTPUT_PIXELS }, lookup);
const refusal = async (raw: string) => {
  try {
    await parseVariants(raw);
  } catch (err) {
    return err as AppError;
  }
  throw new Error(`accepted ${raw}`);
};

describe('variants', () => {
  it('defaults to thumb and display as the contract says', async () => {
    expect(await parseVariants(undefined)).toBe(DEFAULT_VARIANTS);
    expect(await parseVariants('  ')).toBe(DEFAULT_VARIANTS);
    expect(DEFAULT_VARIANTS).toEqual([
      { name: 'thumb', width: 320, height: 320, fit: 'inside', format: 'webp', withoutEnlargement: true },
      { name: 'display', width: 2048, height: 2048, fit: 'inside', format: 'webp', quality: 80, withoutEnlargement: true },
    ]);
  });

  it('fills in defaults for a custom variant', async () => {
    expect(await parseVariants('[{"name":"hero","width":1600,"height":900,"fit":"cover","format":"avif","quality":50}]')).toEqual([
      { name: 'hero', width: 1600, height: 900, fit: 'cover', format: 'avif', quality: 50, withoutEnlargement: true },
    ]);
    expect((await parseVariants('[{"name":"w"}]'))[0]).toEqual({ name: 'w', fit: 'inside', format: 'webp', withoutEnlargement: true });
  });

  it('refuses bad lists with invalid_request naming the field', async () => {
    const err = await refusal('[{"name":"ok"},{"name":"x","width":-3}]');
    expect(err.code).toBe('invalid_request');
    expect(err.message).toMatch(/^variants\[1\]\.width: /);
    expect((await refusal('[{"name":"ok"},{"name":"x","widht":3}]')).message).toBe('variants[1]: unknown field "widht"');
    await expect(parseVariants(JSON.stringify(Array.from({ length: 11 }, (_, i) => ({ name: `v${i}` }))))).rejects.toThrow(/at most 10/);
    await expect(parseVariants('{"name":"x"}')).rejects.toThrow(AppError);
  });

  it('resolves a preset named as a variant into the variant a render of it makes, when the upload is parsed', async () => {
    expect(await parseVariants('[{"name":"card","preset":"card"},{"name":"small","width":100}]')).toEqual([
      { name: 'card', width: 480, height: 320, fit: 'cover', format: 'webp', quality: 70, withoutEnlargement: true },
      { name: 'small', width: 100, fit: 'inside', format: 'webp', withoutEnlargement: true },
    ]);
    expect((await refusal('[{"name":"x","preset":"none"}]')).message).toBe('variants[0].preset: no preset "none"');
    expect((await refusal('[{"name":"x","preset":"Bad"}]')).message).toMatch(/^variants\[0\]\.preset: 1–40 lower-case/);
    expect((await refusal('[{"name":"x","preset":"card","width":10}]')).message).toMatch(/^variants\[0\]: .*"width"/);
    expect((await refusal('[{"name":"x","preset":"auto"}]')).message).toMatch(/^variants\[0\]: preset "auto" has format auto, chosen per request from Accept; .* needs a fixed format/);
    expect((await refusal('[{"name":"x","preset":"unset"}]')).message).toMatch(/^variants\[0\]: preset "unset" has format auto \(none given\)/);
    // The caps hold for what a preset resolves to as for any variant.
    expect((await refusal('[{"name":"w","preset":"wide"}]')).message).toMatch(/^variants\[0\]: 8000×6000 = 48000000 pixels is over the AVIF limit/);
  });

  it('refuses a variant over the output caps with 400 naming the cap', async () => {
    const side = await refusal('[{"name":"big","width":8193,"height":10}]');
    expect([side.code, side.status]).toEqual(['invalid_request', 400]);
    expect(side.message).toMatch(/^variants\[0\]\.width: at most 8192 pixels a side/);
    // 8192×8192 AVIF: the request that took 21 s and 1.66 GB before the caps.
    const square = await refusal('[{"name":"a","width":8192,"height":8192,"format":"avif"}]');
    expect(square.message).toBe(
      'variants[0]: 8192×8192 = 67108864 pixels is over the AVIF limit of 12000000 pixels (its encoder needs the most memory per pixel; docs/security.md)',
    );
    expect((await refusal('[{"name":"w","width":5000,"height":4000,"fit":"cover"}]')).message).toMatch(/20000000 pixels is over the WebP limit of 16000000 pixels/);
    const jpeg = await refusal('[{"name":"j","width":8192,"height":8192,"fit":"cover","format":"jpeg"}]');
    expect(jpeg.message).toBe('variants[0]: 8192×8192 = 67108864 pixels is over the limit of 40000000 pixels per variant (--max-output-pixels)');
    // At the caps exactly is fine, and a lower --max-output-pixels applies to every format.
    const atCaps = '[{"name":"j","width":8192,"height":4882,"format":"jpeg"},{"name":"a","width":4000,"height":3000,"format":"avif"},{"name":"w","width":4000,"height":4000}]';
    expect(await parseVariants(atCaps)).toHaveLength(3);
    await expect(parseWith('[{"name":"a","width":4000,"height":3000,"format":"avif"}]', { maxOutputPixels: 1_000_000 }, lookup)).rejects.toThrow(/limit of 1000000 pixels per variant/);
  });

  it('plans each variant within both caps, keeping the aspect ratio of what depends on the source', () => {
    const spec = (v: Partial<VariantSpec>): VariantSpec => ({ name: 'x', fit: 'inside', format: 'webp', withoutEnlargement: true, ...v });
    const withinCaps = (v: VariantSpec, w: number, h: number) => {
      const plan = planOutput(v, w, h, MAX_OUTPUT_PIXELS);
      expect(plan.width).toBeLessThanOrEqual(MAX_OUTPUT_SIDE);
      expect(plan.height).toBeLessThanOrEqual(MAX_OUTPUT_SIDE);
      expect(plan.width * plan.height).toBeLessThanOrEqual(maxPixelsFor(v.format, MAX_OUTPUT_PIXELS));
      return plan;
    };
    // Scales needed from the original, unchanged where nothing is over a cap.
    expect(withinCaps(spec({ width: 2048, height: 2048 }), 4096, 2048)).toMatchObject({ scale: 0.5, clamped: false, width: 2048, height: 1024 });
    expect(withinCaps(spec({ width: 100, height: 100, fit: 'cover' }), 400, 200)).toMatchObject({ scale: 0.5, clamped: false });
    expect(withinCaps(spec({ width: 100 }), 400, 200)).toMatchObject({ scale: 0.25, clamped: false, width: 100, height: 50 });
    expect(withinCaps(spec({}), 400, 200)).toMatchObject({ scale: 1, resize: undefined, clamped: false });
    // A conversion at full size of a 12000×9000 original: to 40 MP, 4:3 kept.
    const full = withinCaps(spec({ format: 'png' }), 12000, 9000);
    expect(full.clamped).toBe(true);
    expect(full.resize).toMatchObject({ fit: 'inside', width: 7302, height: 5477 });
    expect(Math.abs(full.width / full.height - 4 / 3)).toBeLessThan(0.001);
    // Only a width, on a tall image, enlarged: the height would be 81920.
    const tall = withinCaps(spec({ width: 8192, withoutEnlargement: false, format: 'jpeg' }), 100, 1000);
    expect(tall).toMatchObject({ clamped: true, height: 8192 });
    expect(tall.width).toBe(819);
    // `outside` grows past its box: clamped, and AVIF to its own cap.
    const outside = withinCaps(spec({ width: 8000, height: 100, fit: 'outside', format: 'avif', withoutEnlargement: false }), 1000, 1000);
    expect(outside.clamped).toBe(true);
    expect(outside.width).toBe(3464); // √12 MP: a square
  });

  it('counts every frame of an animation against the pixel cap, and the side caps per frame', () => {
    const spec = (v: Partial<VariantSpec>): VariantSpec => ({ name: 'x', fit: 'inside', format: 'webp', withoutEnlargement: true, ...v });
    const frames = 20;
    const within = (plan: ReturnType<typeof planOutput>) => {
      expect(plan.frames).toBe(frames);
      expect(plan.width).toBeLessThanOrEqual(MAX_OUTPUT_SIDE);
      expect(plan.height).toBeLessThanOrEqual(MAX_OUTPUT_SIDE);
      expect(plan.width * plan.height * frames).toBeLessThanOrEqual(maxPixelsFor('webp', MAX_OUTPUT_PIXELS));
      return plan;
    };
    // A box within the cap for one frame (4000² = 16 MP) but 320 MP with its frames: made
    // smaller, its fit kept: √(16/320) of 4000 is 894.
    const box = within(planOutput(spec({ width: 4000, height: 4000, fit: 'cover' }), 4000, 4000, MAX_OUTPUT_PIXELS, frames));
    expect(box).toMatchObject({ clamped: true, width: 894, height: 894, resize: { width: 894, height: 894, fit: 'cover' } });
    expect(box.scale).toBeCloseTo(894 / 4000, 3);
    // A conversion of 500×500 × 20 frames (5 MP) is within the cap: as it is.
    expect(within(planOutput(spec({}), 500, 500, MAX_OUTPUT_PIXELS, frames))).toMatchObject({ clamped: false, width: 500, height: 500, resize: undefined });
    // 1920×1080 × 20 frames (41 MP): scaled to 16 MP, 16:9 kept.
    const wide = within(planOutput(spec({}), 1920, 1080, MAX_OUTPUT_PIXELS, frames));
    expect(wide).toMatchObject({ clamped: true, width: 1192, height: 670 });
    // One frame is a still: the caps as before.
    expect(planOutput(spec({ width: 4000, height: 4000, fit: 'cover' }), 4000, 4000, MAX_OUTPUT_PIXELS)).toMatchObject({ clamped: false, width: 4000, frames: 1 });
  });
});
