import type { Metadata } from 'sharp';
import { describeHeif } from '../../workers/heif/describe.js';
import { MalformedHeif } from '../../workers/heif/layout.js';
import { AppError } from '../errors.js';

/**
 * The stored size of a HEIF image (HEVC-coded HEIC, as phones write it), from its header alone.
 * sharp's libvips reads the container but cannot decode HEVC; the worker decodes it
 * (workers/heif/decode.ts). The size is the primary image's before its orientation, as for a
 * JPEG: the record's width and height are the header's, the metadata gives the orientation.
 */
export async function probeHeif(file: string, meta: Metadata): Promise<{ width: number; height: number; pages: number }> {
  try {
    const { width, height } = await describeHeif(file, meta);
    if (!width || !height) throw new AppError('unsupported_media_type', 'image header has no dimensions');
    // Only the primary image is made into variants: a burst's or a Live Photo's other stills are not frames.
    return { width, height, pages: 1 };
  } catch (err) {
    if (err instanceof MalformedHeif) throw new AppError('unsupported_media_type', `not a decodable HEIF image: ${err.message}`);
    throw err;
  }
}
