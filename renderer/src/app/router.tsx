import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from 'react';

/**
 * A router of a few lines: the address is the state. Pages are real paths (the server answers
 * every page address with the app), so links can be opened in a new tab and bookmarked.
 */
const CHANGE = 'darkroom:navigate';

function subscribe(onChange: () => void) {
  window.addEventListener('popstate', onChange);
  window.addEventListener(CHANGE, onChange);
  return () => {
    window.removeEventListener('popstate', onChange);
    window.removeEventListener(CHANGE, onChange);
  };
}

const snapshot = () => window.location.pathname + window.location.search;

export function useLocation(): { path: string; search: URLSearchParams } {
  const current = useSyncExternalStore(subscribe, snapshot);
  const url = new URL(current, window.location.origin);
  return { path: url.pathname, search: url.searchParams };
}

export function navigate(to: string, options: { replace?: boolean } = {}) {
  if (to === snapshot()) return;
  if (options.replace) window.history.replaceState(null, '', to);
  else window.history.pushState(null, '', to);
  window.dispatchEvent(new Event(CHANGE));
  if (!options.replace) window.scrollTo({ top: 0 });
}

export type Route =
  | { name: 'library' }
  | { name: 'image'; id: string }
  | { name: 'stats' }
  | { name: 'keys' }
  | { name: 'presets' }
  | { name: 'webhooks' }
  | { name: 'status' }
  | { name: 'not-found' };

export function matchRoute(path: string): Route {
  if (path === '/' || path === '/library') return { name: 'library' };
  const image = /^\/images\/([0-9a-f-]{36})\/?$/.exec(path);
  if (image) return { name: 'image', id: image[1]! };
  if (path === '/stats') return { name: 'stats' };
  if (path === '/keys') return { name: 'keys' };
  if (path === '/presets') return { name: 'presets' };
  if (path === '/webhooks') return { name: 'webhooks' };
  if (path === '/status') return { name: 'status' };
  return { name: 'not-found' };
}

type LinkProps = AnchorHTMLAttributes<HTMLAnchorElement> & { to: string };

/** An ordinary link that navigates inside the app (and still opens in a new tab when asked). */
export function Link({ to, onClick, ...rest }: LinkProps) {
  const handle = (event: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(event);
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={handle} {...rest} />;
}
