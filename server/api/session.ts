import { z } from 'zod';
import { Role } from './enums.js';
import { OUTPUT_FORMATS } from './vocabulary.js';

const Positive = z.number().int().min(1);

/** `GET /v1/me`: who the key is, and the limits a client can check before it sends anything. */
export const Me = z
  .strictObject({
    keyId: z.string(),
    customer: z.string(),
    role: Role,
    limits: z.strictObject({
      maxUploadBytes: Positive.meta({ description: '--max-upload-bytes' }),
      maxInputPixels: Positive.meta({ description: '--max-input-pixels' }),
      output: z
        .strictObject({
          maxSide: Positive,
          maxVariants: Positive,
          maxPixels: z.strictObject(Object.fromEntries(OUTPUT_FORMATS.map((f) => [f, Positive])) as Record<(typeof OUTPUT_FORMATS)[number], typeof Positive>),
        })
        .meta({ description: 'What a variant may be: at most maxSide a side, maxPixels[format] pixels, maxVariants of them' }),
    }),
  })
  .meta({ id: 'Me' });
export type Me = z.infer<typeof Me>;
