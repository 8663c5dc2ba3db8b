import net from 'node:net';
import type { NextFunction, Request, Response } from 'express';
import { AppError } from '../../errors.js';

/**
 * True for an address on this machine's loopback interface: 127.0.0.0/8, ::1, and the IPv4
 * loopback mapped into IPv6 (what a dual-stack socket reports for 127.0.0.1).
 */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const plain = address.replace(/%.*$/, '').toLowerCase();
  const v4 = plain.startsWith('::ffff:') ? plain.slice(7) : plain;
  if (net.isIPv4(v4)) return v4.split('.')[0] === '127';
  if (!net.isIPv6(plain)) return false;
  return new net.SocketAddress({ address: plain, family: 'ipv6' }).address === '::1';
}

/**
 * Routes that make the server read local files by path (import, watch folders) answer only
 * requests from this machine. Judged from the TCP peer itself, never from a header such as
 * X-Forwarded-For that a client could write.
 */
export function requireLoopback(what: string) {
  return (req: Request, _res: Response, next: NextFunction) => {
    if (isLoopbackAddress(req.socket.remoteAddress)) return next();
    next(new AppError('forbidden', `${what} is only allowed from this machine (a loopback connection)`));
  };
}
