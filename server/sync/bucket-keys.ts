/**
 * The sync's names for objects and lanes. Object keys below the prefix are the blob keys of the
 * primary store (storage/blob-store.ts `blobKeys`); lanes are the keys an operation is about, so
 * the operations on one object (or one image's processed files) run one at a time, in order.
 */

export const originalKey = (sha256: string) => `originals/${sha256}`;

/** The lane of every operation on an image's processed files. */
export const processedLane = (imageId: string) => `processed/${imageId}`;

/** `processed/<id>/<variant>.<ext>`: the file name of the local processed file, below its image. */
export function processedKey(imageId: string, localPath: string): string {
  const file = localPath.split(/[\\/]/).pop()!;
  return `processed/${imageId}/${file}`;
}
