import type { Fit, Position, RenderFormat } from '../../api/schemas';

/**
 * How the UI names render parameters' values (CONTRACT §10), wherever they are chosen: upload
 * variants, presets, share links. The values themselves come from the API's vocabulary.
 */
export const FIT_LABELS: Record<Fit, string> = {
  inside: 'Fit inside',
  cover: 'Crop to fill',
  contain: 'Letterbox',
  fill: 'Stretch',
  outside: 'Fit outside',
};

/** The order fits are offered in: the default first, then from the most to the least used. */
export const FIT_CHOICES: Fit[] = ['inside', 'cover', 'contain', 'fill', 'outside'];

export const POSITION_LABELS: Record<Position, string> = {
  center: 'Centre',
  top: 'Top',
  right: 'Right',
  bottom: 'Bottom',
  left: 'Left',
  entropy: 'Entropy (the busiest part)',
  attention: 'Attention (what draws the eye)',
};

export const FORMAT_LABELS: Record<RenderFormat, string> = { auto: 'Auto', webp: 'WebP', avif: 'AVIF', jpeg: 'JPEG', png: 'PNG' };

/** A media type's format as the UI names it ("image/webp" → "WebP"). */
export function formatOfType(type: string | undefined): string {
  const sub = type?.replace(/^image\//, '').split(';')[0]?.trim() ?? '';
  return sub in FORMAT_LABELS ? FORMAT_LABELS[sub as RenderFormat] : sub.toUpperCase() || 'unknown';
}
