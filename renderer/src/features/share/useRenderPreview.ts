import { useEffect, useRef, useState } from 'react';
import type { ApiClient } from '../../api/client';

/**
 * What a browser's <img> sends as Accept (Chromium's), so a `format=auto` preview is the format a
 * visitor's browser gets from the link, not the JPEG a bare fetch would.
 */
const IMAGE_ACCEPT = 'image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8';

/** Waits this long after the last change before rendering: typing "1200" asks for one render, not four. */
const SETTLE_MS = 350;

export interface RenderPreview {
  state: 'idle' | 'loading' | 'ready' | 'error';
  /** A blob: URL of the rendered bytes (kept while the next one loads). */
  url?: string;
  /** The answer's media type and size. */
  type?: string;
  bytes?: number;
  /** The API's message when it refused the render. */
  error?: string;
  /** The render path the shown image (or error) is of. */
  path?: string;
}

/**
 * A render fetched with the session's key and shown through a blob: URL (an <img> cannot send
 * the key; see ui/authedImages.ts, which does the same for thumbnails). Unlike thumbnails these
 * are one at a time and change with every setting, so they get neither its queue nor its cache:
 * the previous request is aborted and the previous URL released.
 */
export function useRenderPreview(api: ApiClient, path: string | undefined): RenderPreview {
  const [preview, setPreview] = useState<RenderPreview>({ state: 'idle' });
  // The blob: URL shown now: released when the next one replaces it, and when the panel goes.
  const shown = useRef<string | undefined>(undefined);

  useEffect(() => {
    if (!path) {
      setPreview((p) => ({ state: 'idle', url: p.url }));
      return;
    }
    setPreview((p) => ({ ...p, state: 'loading' }));
    const controller = new AbortController();
    const timer = setTimeout(() => {
      api
        .request('GET', path, { signal: controller.signal, accept: IMAGE_ACCEPT })
        .then((res) => res.blob())
        .then((blob) => {
          if (controller.signal.aborted) return;
          const url = URL.createObjectURL(blob);
          if (shown.current) URL.revokeObjectURL(shown.current);
          shown.current = url;
          setPreview({ state: 'ready', url, type: blob.type, bytes: blob.size, path });
        })
        .catch((err: Error) => {
          if (controller.signal.aborted || err.name === 'AbortError') return;
          setPreview((p) => ({ state: 'error', url: p.url, error: err.message, path }));
        });
    }, SETTLE_MS);
    return () => {
      clearTimeout(timer);
      controller.abort();
    };
  }, [api, path]);

  useEffect(
    () => () => {
      if (shown.current) URL.revokeObjectURL(shown.current);
      shown.current = undefined;
    },
    [],
  );

  return preview;
}
