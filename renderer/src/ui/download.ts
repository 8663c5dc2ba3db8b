import type { ApiClient } from '../api/client';

/**
 * Downloads a file the API serves only with a key: fetched with the Authorization header, then
 * handed to the browser as a blob: link, so it is saved under the name the server gave it.
 */
export async function downloadWithKey(api: ApiClient, path: string, fallbackName: string): Promise<void> {
  const { blob, filename } = await api.blob(path);
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename ?? fallbackName;
  document.body.append(a);
  a.click();
  a.remove();
  // Give the browser time to start reading the blob before it is released.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // Clipboard API refused (plain-HTTP LAN page): fall back to a selection copy.
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'visually-hidden';
    document.body.append(area);
    area.select();
    const ok = document.execCommand('copy');
    area.remove();
    return ok;
  }
}
