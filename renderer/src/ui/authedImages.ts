import { useEffect, useState } from 'react';
import type { ApiClient } from '../api/client';

/**
 * Images the API serves only with a key (an <img> cannot send one): fetched with the key and
 * shown through blob: URLs. A few at a time, newest request first (while scrolling fast, what
 * is on screen now matters more than what scrolled past), requests nobody waits for any more
 * are dropped before they start, and recently shown ones are kept in a small cache.
 */
const MAX_PARALLEL = 6;
const CACHE_SIZE = 400;

interface Entry {
  url?: string;
  promise?: Promise<string>;
  waiting: number;
  controller?: AbortController;
}

const cache = new Map<string, Entry>();
const queue: Array<{ path: string; start: () => void }> = [];
let running = 0;

function pump() {
  while (running < MAX_PARALLEL && queue.length) {
    // LIFO: the most recent request is the one on screen.
    const next = queue.pop()!;
    next.start();
  }
}

function evict() {
  if (cache.size <= CACHE_SIZE) return;
  for (const [path, entry] of cache) {
    if (cache.size <= CACHE_SIZE) break;
    if (entry.waiting > 0 || !entry.url) continue;
    URL.revokeObjectURL(entry.url);
    cache.delete(path);
  }
}

function load(api: ApiClient, path: string): Entry {
  let entry = cache.get(path);
  if (entry) {
    // Touch: Map iteration order is insertion order, so re-insert to mark as recently used.
    cache.delete(path);
    cache.set(path, entry);
    return entry;
  }
  entry = { waiting: 0 };
  const e = entry;
  e.promise = new Promise<string>((resolve, reject) => {
    const start = () => {
      if (e.waiting === 0) {
        // Nobody is waiting any more: forget it, it will be asked again if it scrolls back.
        cache.delete(path);
        reject(new DOMException('not needed', 'AbortError'));
        return;
      }
      running++;
      e.controller = new AbortController();
      api
        .blob(path, e.controller.signal)
        .then(({ blob }) => {
          e.url = URL.createObjectURL(blob);
          resolve(e.url);
        })
        .catch((err: unknown) => {
          cache.delete(path);
          reject(err);
        })
        .finally(() => {
          running--;
          e.controller = undefined;
          evict();
          pump();
        });
    };
    queue.push({ path, start });
  });
  e.promise.catch(() => {});
  cache.set(path, e);
  return e;
}

/** The blob: URL of an API image if it is already loaded. */
export const cachedAuthedImage = (path: string): string | undefined => cache.get(path)?.url;

/** The blob: URL of an API image, or undefined while it loads (or when path is undefined). */
export function useAuthedImage(api: ApiClient, path: string | undefined): { url?: string; failed: boolean } {
  const [state, setState] = useState<{ path?: string; url?: string; failed: boolean }>(() => {
    const ready = path ? cache.get(path)?.url : undefined;
    return { path, url: ready, failed: false };
  });

  useEffect(() => {
    if (!path) return;
    const entry = load(api, path);
    if (entry.url) {
      setState({ path, url: entry.url, failed: false });
      return;
    }
    entry.waiting++;
    // Started only now that someone waits for it (a start with nobody waiting is dropped).
    pump();
    let live = true;
    entry.promise!.then(
      (url) => live && setState({ path, url, failed: false }),
      (err: unknown) => live && (err as Error)?.name !== 'AbortError' && setState({ path, failed: true }),
    );
    return () => {
      live = false;
      entry.waiting--;
      // Scrolled away before it arrived: stop the download rather than finish it for nobody.
      if (entry.waiting === 0 && !entry.url && entry.controller) entry.controller.abort();
    };
  }, [api, path]);

  return state.path === path ? { url: state.url, failed: state.failed } : { url: path ? cache.get(path)?.url : undefined, failed: false };
}
