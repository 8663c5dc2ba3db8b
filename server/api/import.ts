import { z } from 'zod';
import { VariantsText } from './images.js';
import { MAX_IMPORT_PATHS } from './vocabulary.js';

/** `POST /v1/image/import` (admin key, loopback client); answers like `POST /v1/image`. */
export const ImportRequest = z
  .strictObject({
    paths: z
      .array(z.string().min(1, 'paths: an empty path').max(4096))
      .min(1, 'paths: give at least one path')
      .max(MAX_IMPORT_PATHS)
      .meta({ description: 'Absolute paths of regular, readable image files on the server\'s machine' }),
    // Like the upload's `variants`: a JSON string, or here also the list itself (checked as a variant list).
    variants: z.union([VariantsText, z.array(z.unknown())]).optional().meta({ description: 'A variant list, or its JSON text' }),
  })
  .meta({ id: 'ImportRequest' });
export type ImportRequest = z.infer<typeof ImportRequest>;
