import { z } from 'zod';
import { Fit, Position, RenderFormat } from './enums.js';
import { MAX_OUTPUT_SIDE, MAX_RENDER_DPR } from './vocabulary.js';
import { PresetName } from './presets.js';

/**
 * A number from a query string, with a message that names the parameter: query values arrive
 * as text (`?w=abc` must say what `w` takes, not "expected number, received NaN").
 */
function queryNumber(name: string, min: number, max: number, integer: boolean, description: string) {
  const what = `${name}: ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}`;
  return z
    .string()
    .regex(integer ? /^\d{1,6}$/ : /^\d{1,3}(\.\d{1,3})?$/, what)
    .transform(Number)
    .pipe(z.number().min(min, what).max(max, what))
    .meta({ description });
}

/**
 * The query of `GET /v1/image/{id}/render` (CONTRACT §10): each parameter checked on its own
 * here (its range, its words); what depends on several of them (entropy and attention only with
 * cover, the output caps once dpr multiplied the size) is checked when the request is made
 * whole (services/render/render-request.ts), after a preset, when one is named, filled in what
 * the query left out. Strict: an unknown parameter is a 400 naming it.
 */
export const RenderQuery = z.strictObject({
  w: queryNumber('w', 1, MAX_OUTPUT_SIDE, true, `Box width in pixels, 1–${MAX_OUTPUT_SIDE}; without w and h, the source's size`).optional(),
  h: queryNumber('h', 1, MAX_OUTPUT_SIDE, true, `Box height in pixels, 1–${MAX_OUTPUT_SIDE}`).optional(),
  fit: Fit.optional().meta({ description: 'How the image fits the box of w × h; default inside' }),
  position: Position.optional().meta({ description: 'What a crop (fit cover or contain) keeps; default center; entropy and attention only with fit cover' }),
  format: RenderFormat.optional().meta({ description: 'The format written; default auto (AVIF, WebP, PNG or JPEG from Accept and the source)' }),
  q: queryNumber('q', 1, 100, true, 'Encoder quality 1–100; the format\'s default when absent').optional(),
  dpr: queryNumber('dpr', 1, MAX_RENDER_DPR, false, `Device pixel ratio 1–${MAX_RENDER_DPR}: multiplies w and h`).optional(),
  preset: PresetName.optional().meta({ description: 'A preset (GET /v1/presets): its parameters, read at this request, fill in what the query leaves out; an unknown preset is 400' }),
});
export type RenderQuery = z.infer<typeof RenderQuery>;
