import type { NextFunction, Request, Response } from 'express';
import { AppError } from '../../errors.js';
import { isLoopbackAddress } from './loopback.js';

/** The names a loopback-bound server always answers to (CONTRACT §14). */
const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

export interface HostCheckOptions {
  /** --allowed-hosts: more names (any port). */
  allowedHosts: readonly string[];
  /** The address the server listens on, once it does. */
  boundAddress: () => string | undefined;
}

/**
 * While the server listens on a loopback address, answers 421 to a request whose Host is not a
 * name of this machine's loopback (any port) or one of `--allowed-hosts`. A DNS-rebinding page
 * (a site whose name the attacker points at 127.0.0.1 once the page has loaded) reaches a
 * loopback server from the victim's browser as a same-origin request, but its Host header still
 * carries the attacker's name: refusing that name leaves the page nothing to read. Every path is
 * checked, /healthz and /metrics included: the check costs nothing to a client that calls the
 * server by its address, and even "a Darkroom server runs here" is not for a foreign page to
 * learn. A server bound to 0.0.0.0 or a LAN address is reached under names it cannot know, and
 * checks nothing.
 */
export function requireLoopbackHost(options: HostCheckOptions) {
  // Decided on the first request, when the server listens: a set of names, or null for no check.
  let allowed: Set<string> | null | undefined;
  const decide = (bound: string) => {
    if (!isLoopbackAddress(bound)) return null;
    // The bound address itself (127.0.0.2, ::1 …) is loopback too, and an address cannot be rebound.
    const own = bound.includes(':') ? `[${bound.toLowerCase()}]` : bound;
    return new Set([...LOOPBACK_NAMES, own, ...options.allowedHosts.map(hostName)]);
  };
  return (req: Request, _res: Response, next: NextFunction) => {
    if (allowed === undefined) {
      const bound = options.boundAddress();
      if (bound === undefined) return next();
      allowed = decide(bound);
    }
    if (allowed === null) return next();
    const host = req.headers.host;
    if (host !== undefined && allowed.has(hostName(host))) return next();
    next(
      new AppError(
        'misdirected_request',
        host === undefined
          ? 'send a Host header: this server answers to localhost, 127.0.0.1 and [::1]'
          : `this server answers to localhost, 127.0.0.1 and [::1], not to "${host.slice(0, 100)}"; --allowed-hosts adds names`,
      ),
    );
  };
}

/** The host name of a Host header without its port, lower case: "[::1]:7410" → "[::1]". */
export function hostName(host: string): string {
  const value = host.trim().toLowerCase();
  if (value.startsWith('[')) return value.slice(0, value.indexOf(']') + 1);
  // A trailing dot names the same host ("localhost." is localhost).
  return value.replace(/:\d*$/, '').replace(/\.$/, '');
}
