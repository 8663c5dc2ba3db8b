import * as tus from 'tus-js-client';

export interface InterruptedUpload {
  storageKey: string;
  uploadUrl: string;
  filename: string;
  size: number;
  createdAt: string;
}

/**
 * Uploads of this key that a closed or reloaded page left unfinished. The browser cannot open
 * the files again by itself, so they are listed: adding the same file again continues where
 * the server's bytes end.
 */
export async function findInterrupted(keyId: string): Promise<InterruptedUpload[]> {
  const all = await tus.defaultOptions.urlStorage.findAllUploads().catch(() => []);
  return all
    .filter((u) => u.uploadUrl && u.urlStorageKey.startsWith(`tus::darkroom-${keyId}-`))
    .map((u) => ({
      storageKey: u.urlStorageKey,
      uploadUrl: u.uploadUrl!,
      filename: u.metadata?.filename ?? 'file',
      size: u.size ?? 0,
      createdAt: u.creationTime,
    }));
}

/** Gives up an interrupted upload: the server drops its bytes and the browser forgets it. */
export async function discardInterrupted(upload: InterruptedUpload, key: string): Promise<void> {
  await tus.Upload.terminate(upload.uploadUrl, { headers: { Authorization: `Bearer ${key}` } }).catch(() => {});
  await tus.defaultOptions.urlStorage.removeUpload(upload.storageKey);
}

/** How far an interrupted upload got, asked from the server (undefined if it is gone). */
export async function offsetOf(upload: InterruptedUpload, key: string): Promise<number | undefined> {
  try {
    const res = await fetch(upload.uploadUrl, { method: 'HEAD', headers: { Authorization: `Bearer ${key}`, 'Tus-Resumable': '1.0.0' } });
    if (!res.ok) return undefined;
    return Number(res.headers.get('Upload-Offset'));
  } catch {
    return undefined;
  }
}
