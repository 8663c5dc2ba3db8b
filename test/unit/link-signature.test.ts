/** The signature of a link: its canonical form as docs/render.md states it, and what changes it. */
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalForm, canonicalQuery, signLink, verifyLink } from '../../server/services/links/link-signature.js';

const KEY = 'k'.repeat(32);
const ID = '0193a5c2-7d1e-7b8a-9c4d-2e5f6a7b8c9d';
const PARAMS = [['w', '480'], ['format', 'webp'], ['expires', '1767225600']] as const;

describe('link signature', () => {
  it('signs the canonical form docs/render.md gives: version, method, path, sorted parameters', () => {
    expect(canonicalForm(ID, PARAMS)).toBe(`darkroom-link-v1\nGET\n/v1/image/${ID}/render\nexpires=1767225600&format=webp&w=480`);
    const expected = crypto.createHmac('sha256', KEY).update(canonicalForm(ID, PARAMS)).digest('base64url');
    expect(signLink(KEY, ID, PARAMS)).toBe(expected);
    // The value docs/render.md's Python and shell examples print for this form and key.
    expect(expected).toBe('zuw9lmBpVsSexjrYJLzyiTgRFTjx0WkRVLuygGRLrwA');
  });

  it('percent-encodes names and values as RFC 3986 does, and sorts by name', () => {
    expect(canonicalQuery([['b', "a b!'()*"], ['a', 'é/&=']])).toBe('a=%C3%A9%2F%26%3D&b=a%20b%21%27%28%29%2A');
  });

  it('verifies with any of the keys, whatever order the parameters come in', () => {
    const sig = signLink(KEY, ID, PARAMS);
    expect(verifyLink([KEY], ID, [...PARAMS].reverse(), sig)).toBe(true);
    expect(verifyLink(['n'.repeat(32), KEY], ID, PARAMS, sig)).toBe(true);
    expect(verifyLink(['n'.repeat(32)], ID, PARAMS, sig)).toBe(false);
  });

  it('refuses any change: another image, a value, a parameter added or removed, a signature altered', () => {
    const sig = signLink(KEY, ID, PARAMS);
    expect(verifyLink([KEY], ID.replace(/d$/, 'e'), PARAMS, sig)).toBe(false);
    expect(verifyLink([KEY], ID, [['w', '481'], ['format', 'webp'], ['expires', '1767225600']], sig)).toBe(false);
    expect(verifyLink([KEY], ID, [...PARAMS, ['h', '10']], sig)).toBe(false);
    expect(verifyLink([KEY], ID, PARAMS.slice(1), sig)).toBe(false);
    const flipped = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
    expect(verifyLink([KEY], ID, PARAMS, flipped)).toBe(false);
    // Text that decodes to the same bytes (a character outside base64url is skipped by the decoder) is not the signature.
    expect(verifyLink([KEY], ID, PARAMS, `${sig.slice(0, 10)}.${sig.slice(10)}`)).toBe(false);
    expect(verifyLink([KEY], ID, PARAMS, '')).toBe(false);
    expect(verifyLink([KEY], ID, PARAMS, sig.slice(0, 42))).toBe(false);
  });
});
