import { z } from 'zod';
import { Timestamp } from './common.js';
import { PresetName } from './presets.js';
import { RenderQuery } from './render.js';

/** The longest life a signed link may have (CONTRACT §10). */
export const MAX_LINK_LIFE = '365d';
export const DEFAULT_LINK_LIFE = '7d';

/** `POST /v1/image/{id}/links` (CONTRACT §10). */
export const NewLinkRequest = z
  .strictObject({
    preset: PresetName.optional().meta({ description: 'A preset whose parameters the link renders with (fixed when the link is made); `params` beside it override it' }),
    params: z
      .record(z.string(), z.union([z.string(), z.number()]))
      .optional()
      .meta({ description: 'Render parameters (w, h, fit, position, format, q, dpr) as render takes them, e.g. {"w": 480, "format": "webp"}' }),
    expiresIn: z
      .string()
      .regex(/^[1-9][0-9]{0,6}[smhd]$/, 'a duration like 30s, 10m, 12h or 7d')
      .optional()
      .meta({ description: `How long the link works: a number and s, m, h or d; default ${DEFAULT_LINK_LIFE}, at most ${MAX_LINK_LIFE}` }),
  })
  .meta({ id: 'NewLinkRequest' });
export type NewLinkRequest = z.infer<typeof NewLinkRequest>;

export const SignedLink = z
  .strictObject({
    url: z.string().meta({ description: 'The absolute render URL with `expires` and `sig`; anyone holding it may load it, without a key' }),
    expiresAt: Timestamp.meta({ description: 'When the link stops working (410 after)' }),
  })
  .meta({ id: 'SignedLink' });
export type SignedLink = z.infer<typeof SignedLink>;

/**
 * The query of `GET /v1/image/{id}/render` as a signed link carries it: render's parameters and
 * `expires` and `sig`. With `sig` the request needs no key; the signature is checked instead.
 */
export const SignedRenderQuery = RenderQuery.extend({
  expires: z.string().optional().meta({ description: 'A signed link\'s expiry, Unix seconds (signed with the rest): after it, 410 expired' }),
  sig: z
    .string()
    .optional()
    .meta({
      description:
        'A signed link\'s signature: base64url of HMAC-SHA256 over "darkroom-link-v1\\nGET\\n{path}\\n{the other parameters sorted, percent-encoded}" (docs/render.md). ' +
        'With it no key is needed; any change to the link answers 403 forbidden',
    }),
});
