import { decodableInput } from './decoders.js';
import { openHeif } from './heif/decode.js';
import { openRawPreview } from './raw-preview.js';
import type { Source, SourceRequest } from './source.js';

/**
 * What sharp reads for an original. Most formats are read straight from their file; some must
 * first be turned into something libvips can read, each by its own decoder.
 */
export async function openSource(request: SourceRequest): Promise<Source> {
  if (request.format === 'heif') return await openHeif(request);
  if (request.format === 'raw') return await openRawPreview(request);
  return { input: await decodableInput(request.file, request.format), options: request.options };
}
