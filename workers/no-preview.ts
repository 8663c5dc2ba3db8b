/** A camera RAW without an embedded preview that libvips can read: nothing to make variants from. */
export class NoPreview extends Error {}
