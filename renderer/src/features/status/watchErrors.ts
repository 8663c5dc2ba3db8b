import { ApiError } from '../../api/client';
import { sentence } from '../../ui/format';

/** Why a watch folder could not be added or removed, as a sentence to show next to the control. */
export function watchChangeError(error: unknown): string {
  if (error instanceof ApiError && error.code === 'forbidden') {
    // The server changes watch folders only for requests from its own machine (it reads the folders' files).
    return 'Watch folders can be changed only on the machine Darkroom runs on: open Darkroom there (at 127.0.0.1) to add or remove one.';
  }
  return sentence(error instanceof Error ? error.message : String(error));
}
