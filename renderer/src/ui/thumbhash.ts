import { thumbHashToDataURL } from 'thumbhash';

const cache = new Map<string, string>();

/** The blurred placeholder of an image from its thumbhash (base64), as a data: URL; cached. */
export function placeholderUrl(thumbhash: string | null | undefined): string | undefined {
  if (!thumbhash) return undefined;
  const known = cache.get(thumbhash);
  if (known) return known;
  try {
    const bytes = Uint8Array.from(atob(thumbhash), (c) => c.charCodeAt(0));
    const url = thumbHashToDataURL(bytes);
    if (cache.size > 2000) cache.clear();
    cache.set(thumbhash, url);
    return url;
  } catch {
    return undefined;
  }
}
