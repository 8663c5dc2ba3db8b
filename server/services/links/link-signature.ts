import crypto from 'node:crypto';

/**
 * The signature of a link (CONTRACT §10): HMAC-SHA256 over a canonical form of what the link
 * asks for, base64url. The canonical form is, one per line:
 *
 *     darkroom-link-v1
 *     GET
 *     /v1/image/{image id}/render
 *     {every query parameter but sig, sorted by name, as name=value, percent-encoded (RFC 3986), joined by &}
 *
 * `expires` (Unix seconds) is one of the parameters, so it is signed like the others. The method
 * and the path (with the image id) are in it, so a signature authorises that one GET of that one
 * image's render and nothing else; the version line lets the form change without a valid old
 * signature meaning something new. Sorting makes the order in which a client (or a proxy)
 * writes the parameters irrelevant; adding, removing or changing any of them changes the form.
 * Written by hand because it is twenty lines over node:crypto; a library for signed URLs
 * would impose its own form, which other languages must then reproduce (docs/render.md shows the
 * form in Python and shell).
 */
export const LINK_SIGNATURE_VERSION = 'darkroom-link-v1';

/** Percent-encoding as RFC 3986 wants it (encodeURIComponent leaves !'()* as they are). */
const encode = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export function renderPath(imageId: string): string {
  return `/v1/image/${encode(imageId)}/render`;
}

/** The parameters, sorted by name, as `a=1&b=2` (the query a link carries, and the last line of its form). */
export function canonicalQuery(params: ReadonlyArray<readonly [string, string]>): string {
  return [...params]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${encode(k)}=${encode(v)}`)
    .join('&');
}

export function canonicalForm(imageId: string, params: ReadonlyArray<readonly [string, string]>): string {
  return [LINK_SIGNATURE_VERSION, 'GET', renderPath(imageId), canonicalQuery(params)].join('\n');
}

export function signLink(key: string, imageId: string, params: ReadonlyArray<readonly [string, string]>): string {
  return crypto.createHmac('sha256', key).update(canonicalForm(imageId, params)).digest('base64url');
}

/**
 * Whether `sig` is the signature of this request under any of `keys` (the first signs, all
 * verify: a rotation). Compared in constant time, so the time taken tells nothing of how much
 * of a forged signature was right.
 */
export function verifyLink(keys: readonly string[], imageId: string, params: ReadonlyArray<readonly [string, string]>, sig: string): boolean {
  const given = Buffer.from(sig, 'base64url');
  // A signature is 32 bytes; base64url decoding skips what is not base64url, so compare the text back too.
  if (given.length !== 32 || given.toString('base64url') !== sig) return false;
  let ok = false;
  for (const key of keys) {
    const expected = crypto.createHmac('sha256', key).update(canonicalForm(imageId, params)).digest();
    // Every key is tried (no early return): the time does not say which key matched.
    if (crypto.timingSafeEqual(expected, given)) ok = true;
  }
  return ok;
}
