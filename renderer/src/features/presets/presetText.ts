import type { PresetValues } from '../../api/schemas';
import { FIT_LABELS, FORMAT_LABELS, POSITION_LABELS } from '../render/renderOptions';

/** A preset's box as people read it: "480 × 320", "480 wide", "320 high", or the source's size. */
export function presetSize(p: PresetValues): string {
  if (p.w && p.h) return `${p.w} × ${p.h}`;
  if (p.w) return `${p.w} wide`;
  if (p.h) return `${p.h} high`;
  return 'Source size';
}

/** A preset in one line, for a picker: "480 × 320 · Crop to fill · WebP". */
export function presetSummary(p: PresetValues): string {
  return [presetSize(p), p.fit && FIT_LABELS[p.fit], p.position && POSITION_LABELS[p.position], p.format && FORMAT_LABELS[p.format], p.q && `q ${p.q}`].filter(Boolean).join(' · ');
}
