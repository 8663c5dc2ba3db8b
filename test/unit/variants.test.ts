import { describe, expect, it } from 'vitest';
import { AppError } from '../../server/errors.js';
import { DEFAULT_VARIANTS, parseVariants } from '../../server/services/variants.js';
import { requiredScale } from '../../workers/pipeline.js';

describe('variants', () => {
  it('defaults to thumb and display as the contract says', () => {
    expect(parseVariants(undefined)).toBe(DEFAULT_VARIANTS);
    expect(parseVariants('  ')).toBe(DEFAULT_VARIANTS);
    expect(DEFAULT_VARIANTS).toEqual([
      { name: 'thumb', width: 320, height: 320, fit: 'inside', format: 'webp', withoutEnlargement: true },
      { name: 'display', width: 2048, height: 2048, fit: 'inside', format: 'webp', quality: 80, withoutEnlargement: true },
    ]);
  });

  it('fills in defaults for a custom variant', () => {
    expect(parseVariants('[{"name":"hero","width":1600,"height":900,"fit":"cover","format":"avif","quality":50}]')).toEqual([
      { name: 'hero', width: 1600, height: 900, fit: 'cover', format: 'avif', quality: 50, withoutEnlargement: true },
    ]);
    expect(parseVariants('[{"name":"w"}]')[0]).toEqual({ name: 'w', fit: 'inside', format: 'webp', withoutEnlargement: true });
  });

  it('refuses bad lists with invalid_request naming the field', () => {
    const err = (() => {
      try {
        parseVariants('[{"name":"ok"},{"name":"x","width":-3}]');
      } catch (e) {
        return e as AppError;
      }
    })()!;
    expect(err.code).toBe('invalid_request');
    expect(err.message).toMatch(/^variants\[1\]\.width: /);
    expect(() => parseVariants(JSON.stringify(Array.from({ length: 11 }, (_, i) => ({ name: `v${i}` }))))).toThrow(/at most 10/);
    expect(() => parseVariants('{"name":"x"}')).toThrow(AppError);
  });

  it('computes the scale a variant needs from the original', () => {
    const spec = { name: 'x', fit: 'inside', format: 'webp', withoutEnlargement: true } as const;
    expect(requiredScale({ ...spec, width: 2048, height: 2048 }, 4096, 2048)).toBe(0.5);
    expect(requiredScale({ ...spec, width: 100, height: 100, fit: 'cover' }, 400, 200)).toBe(0.5);
    expect(requiredScale({ ...spec, width: 100 }, 400, 200)).toBe(0.25);
    expect(requiredScale(spec, 400, 200)).toBe(1);
  });
});
