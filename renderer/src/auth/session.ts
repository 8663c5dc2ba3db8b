/**
 * Where the UI keeps its key: sessionStorage, so it lasts as long as the tab (a reload keeps
 * you signed in) and is gone when the tab is closed. A login link `/#key=KEY` hands the key
 * over once; it is taken out of the address at once, so it does not stay in history or get
 * copied along with the URL.
 */
const STORAGE_KEY = 'darkroom.key';

export function takeKeyFromFragment(): string | undefined {
  const hash = window.location.hash.replace(/^#/, '');
  if (!hash) return undefined;
  const params = new URLSearchParams(hash);
  const key = params.get('key')?.trim();
  if (!key) return undefined;
  params.delete('key');
  const rest = params.toString();
  window.history.replaceState(window.history.state, '', `${window.location.pathname}${window.location.search}${rest ? `#${rest}` : ''}`);
  return key;
}

export function storedKey(): string | undefined {
  try {
    return window.sessionStorage.getItem(STORAGE_KEY) ?? undefined;
  } catch {
    return undefined;
  }
}

export function storeKey(key: string): void {
  try {
    window.sessionStorage.setItem(STORAGE_KEY, key);
  } catch {
    // storage disabled: the key lives in memory for this page only
  }
}

export function forgetKey(): void {
  try {
    window.sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // nothing stored
  }
}
