import { z } from 'zod';
import { listOf, Timestamp } from './common.js';
import { Fit, Position, RenderFormat } from './enums.js';
import { MAX_OUTPUT_SIDE } from './vocabulary.js';

// ---------------------------------------------------------------------------------------------
// Requests

/** A preset's name: what `preset=NAME` and `{"preset": NAME}` refer to (CONTRACT §10). */
export const PresetName = z
  .string()
  .regex(/^[a-z0-9-]{1,40}$/, '1–40 lower-case letters, digits or "-"')
  .meta({ description: 'The preset\'s name: 1–40 lower-case letters, digits or "-"' });

export const PresetParamsPath = z.strictObject({ name: PresetName });
export type PresetParamsPath = z.infer<typeof PresetParamsPath>;

const side = z.number().int().min(1).max(MAX_OUTPUT_SIDE, `at most ${MAX_OUTPUT_SIDE} pixels a side (the output cap)`);

/**
 * What a preset holds: render parameters (CONTRACT §10), each optional, as JSON values. What it
 * leaves out takes render's default, or the value given beside `preset=` in a render request.
 */
export const PresetValues = z
  .strictObject({
    w: side.optional().meta({ description: 'Width in pixels, 1–8192' }),
    h: side.optional().meta({ description: 'Height in pixels, 1–8192' }),
    fit: Fit.optional().meta({ description: 'How the image fits w×h; render\'s default (inside) when absent' }),
    position: Position.optional().meta({ description: 'What a crop keeps (entropy and attention only with fit cover); center when absent' }),
    format: RenderFormat.optional().meta({ description: 'The format written; auto (from the request\'s Accept) when absent. An upload variant needs a fixed format' }),
    q: z.number().int().min(1).max(100).optional().meta({ description: 'Encoder quality 1–100; the format\'s default when absent' }),
  })
  .meta({ id: 'PresetValues' });
export type PresetValues = z.infer<typeof PresetValues>;

// ---------------------------------------------------------------------------------------------
// Responses

export const Preset = z
  .strictObject({
    name: PresetName,
    ...PresetValues.shape,
    createdAt: Timestamp,
    updatedAt: Timestamp,
  })
  .meta({ id: 'Preset' });
export type Preset = z.infer<typeof Preset>;

export const PresetList = listOf(Preset).meta({ id: 'PresetList', description: 'Every preset, by name' });
export type PresetList = z.infer<typeof PresetList>;
