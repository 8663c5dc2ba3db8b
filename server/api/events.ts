import { z } from 'zod';
import { ImageStatus } from './enums.js';

/** `GET /v1/events` (server-sent events): the data of an `image.status` event: an image of the caller's customer changed status. */
export const ImageStatusEvent = z.strictObject({ id: z.string(), status: ImageStatus }).meta({ id: 'ImageStatusEvent' });
export type ImageStatusEvent = z.infer<typeof ImageStatusEvent>;
