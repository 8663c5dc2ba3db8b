import type { Me, VariantSpecInput } from '../../api/schemas';

export interface VariantPreset {
  id: string;
  label: string;
  description: string;
  /** null: the server's defaults (thumb and display). */
  variants: VariantSpecInput[] | null;
}

export const PRESETS: VariantPreset[] = [
  {
    id: 'standard',
    label: 'Standard',
    description: 'A 320 px thumbnail and a 2048 px display copy, both WebP.',
    variants: null,
  },
  {
    id: 'web',
    label: 'Web publishing',
    description: 'Thumbnail, display copy, and a 1600 × 900 AVIF hero cropped to fill.',
    variants: [
      { name: 'thumb', width: 320, height: 320, fit: 'inside', format: 'webp' },
      { name: 'display', width: 2048, height: 2048, fit: 'inside', format: 'webp', quality: 80 },
      { name: 'hero', width: 1600, height: 900, fit: 'cover', format: 'avif', quality: 50 },
    ],
  },
  {
    id: 'social',
    label: 'Social media',
    description: 'A 1080 px square post and a 1080 × 1920 story, JPEG, plus a thumbnail.',
    variants: [
      { name: 'thumb', width: 320, height: 320, fit: 'inside', format: 'webp' },
      { name: 'square', width: 1080, height: 1080, fit: 'cover', format: 'jpeg', quality: 85 },
      { name: 'story', width: 1080, height: 1920, fit: 'cover', format: 'jpeg', quality: 85 },
    ],
  },
];

export const DEFAULT_CUSTOM: VariantSpecInput[] = [
  { name: 'thumb', width: 320, height: 320, fit: 'inside', format: 'webp' },
  { name: 'large', width: 2560, fit: 'inside', format: 'webp', quality: 82 },
];

export interface VariantChoice {
  presetId: string | 'custom';
  custom: VariantSpecInput[];
}

/** The variants to send with an upload for a choice; null means the server's defaults. */
export function variantsOf(choice: VariantChoice): VariantSpecInput[] | null {
  if (choice.presetId === 'custom') return choice.custom;
  return PRESETS.find((p) => p.id === choice.presetId)?.variants ?? null;
}

export function choiceLabel(choice: VariantChoice): string {
  if (choice.presetId === 'custom') return `Custom (${choice.custom.map((v) => v.name).join(', ')})`;
  return PRESETS.find((p) => p.id === choice.presetId)?.label ?? 'Standard';
}

/** Client-side check of one custom variant, mirroring the server's rules, for instant feedback. */
export function variantProblem(v: VariantSpecInput, all: VariantSpecInput[], caps: Me['limits']['output']): string | undefined {
  if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(v.name)) return 'Name: lower-case letters, digits, - or _';
  if (v.name === 'original') return 'Name "original" is reserved';
  if (all.filter((o) => o.name === v.name).length > 1) return 'Names must be unique';
  for (const side of [v.width, v.height]) {
    if (side !== undefined && (!Number.isInteger(side) || side < 1 || side > caps.maxSide)) return `Sizes: 1 to ${caps.maxSide} px`;
  }
  const format = v.format ?? 'webp';
  const cap = caps.maxPixels[format];
  if (v.width && v.height && v.width * v.height > cap) return `${format.toUpperCase()}: at most ${(cap / 1e6).toLocaleString()} megapixels`;
  if (v.quality !== undefined && (!Number.isInteger(v.quality) || v.quality < 1 || v.quality > 100)) return 'Quality: 1 to 100';
  return undefined;
}
