import type { Fit, NewLinkRequest, RenderFormat } from '../../api/schemas';

/** How long a share link works: the choices offered (the API takes up to 365d). */
export const LIFETIMES = [
  { value: '1d', label: '1 day' },
  { value: '7d', label: '7 days' },
  { value: '30d', label: '30 days' },
  { value: '365d', label: '1 year' },
] as const;
export type Lifetime = (typeof LIFETIMES)[number]['value'];

/** What the share panel asks for: a size of one's own or a preset, a format, a lifetime. */
export interface ShareChoice {
  source: 'size' | 'preset';
  w?: number;
  h?: number;
  fit: Fit;
  preset: string;
  /**
   * Not set: render's default for a size (auto), the preset's own format for a preset. Set, it
   * overrides the preset's (CONTRACT §10: parameters given beside a preset win).
   */
  format?: RenderFormat;
  expiresIn: Lifetime;
}

export const DEFAULT_CHOICE: ShareChoice = { source: 'size', w: 1200, fit: 'inside', preset: '', expiresIn: '7d' };

/**
 * The render parameters of a choice beside its preset, at a device pixel ratio: only what differs
 * from render's defaults, so links stay short and equal choices make equal links.
 */
export function renderParams(c: ShareChoice, dpr = 1): Record<string, string | number> {
  const params: Record<string, string | number> = {};
  if (c.source === 'size') {
    if (c.w) params.w = c.w;
    if (c.h) params.h = c.h;
    if ((c.w || c.h) && c.fit !== 'inside') params.fit = c.fit;
  }
  if (c.format && !(c.format === 'auto' && c.source === 'size')) params.format = c.format;
  if (dpr !== 1) params.dpr = dpr;
  return params;
}

/** The preset a choice names, if it names one. */
const presetOf = (c: ShareChoice): string | undefined => (c.source === 'preset' && c.preset.trim() ? c.preset.trim() : undefined);

/** Whether the choice can be rendered at all: a preset choice needs a name. */
export const isComplete = (c: ShareChoice): boolean => c.source === 'size' || presetOf(c) !== undefined;

/** `GET /v1/image/{id}/render?…` for a choice: what the preview shows, with the session's key. */
export function renderPath(imageId: string, c: ShareChoice, dpr = 1): string {
  const query = new URLSearchParams();
  const preset = presetOf(c);
  if (preset) query.set('preset', preset);
  for (const [k, v] of Object.entries(renderParams(c, dpr))) query.set(k, String(v));
  const text = query.toString();
  return `/v1/image/${imageId}/render${text ? `?${text}` : ''}`;
}

/** The body of `POST /v1/image/{id}/links` for a choice at a device pixel ratio. */
export function linkRequest(c: ShareChoice, dpr = 1): NewLinkRequest {
  const preset = presetOf(c);
  const params = renderParams(c, dpr);
  return { ...(preset && { preset }), ...(Object.keys(params).length && { params }), expiresIn: c.expiresIn };
}

/**
 * A URL as an HTML attribute value in double quotes. Its `&`s stay as they are: each is followed
 * by a parameter name and `=`, which HTML5 reads as a plain ampersand (it is not ambiguous), so
 * the snippet stays readable and pastes into JSX and templates unchanged.
 */
const attribute = (url: string) => url.replace(/"/g, '%22').replace(/</g, '%3C');

/**
 * An `<img>` for a page: the 1× link as `src`, both in `srcset` (the browser picks by its screen's
 * pixel ratio), and the 1× size as width and height where known, so the page keeps its place for
 * the image before it arrives. `alt` is left for the page's author to fill.
 */
export function imgSnippet({ src, src2x, width, height }: { src: string; src2x?: string; width?: number; height?: number }): string {
  const parts = [`src="${attribute(src)}"`];
  if (src2x) parts.push(`srcset="${attribute(src)} 1x, ${attribute(src2x)} 2x"`);
  if (width && height) parts.push(`width="${width}" height="${height}"`);
  parts.push('alt=""');
  return `<img ${parts.join(' ')}>`;
}
