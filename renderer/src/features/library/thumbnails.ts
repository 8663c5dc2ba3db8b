import type { ImageRecord, Variant } from '../../api/schemas';

/**
 * The variant to show for an image in a grid: `thumb` when it is there, otherwise the smallest
 * processed variant (custom variant lists may have no thumb).
 */
export function gridVariant(image: ImageRecord): Variant | undefined {
  const done = image.variants.filter((v) => v.status === 'done');
  return done.find((v) => v.name === 'thumb') ?? done.sort((a, b) => (a.width ?? 0) * (a.height ?? 0) - (b.width ?? 0) * (b.height ?? 0))[0];
}

/** The largest processed variant that suits a preview: `display`, else the biggest one. */
export function previewVariant(image: ImageRecord): Variant | undefined {
  const done = image.variants.filter((v) => v.status === 'done');
  return done.find((v) => v.name === 'display') ?? done.sort((a, b) => (b.width ?? 0) * (b.height ?? 0) - (a.width ?? 0) * (a.height ?? 0))[0];
}
