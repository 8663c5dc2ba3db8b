import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import ipaddr from 'ipaddr.js';
import { isLoopbackAddress } from '../middleware/loopback.js';

/**
 * Who a connection counts against: its IPv4 address, or the /64 network of an IPv6 address (one
 * host is given a whole /64 and picks addresses in it at will). Undefined for this machine.
 */
export function connectionSource(address: string | undefined): string | undefined {
  if (!address || isLoopbackAddress(address) || !ipaddr.isValid(address)) return undefined;
  const ip = ipaddr.process(address); // an IPv4-mapped IPv6 address as IPv4
  if (ip.kind() === 'ipv4') return ip.toString();
  return `${(ip as ipaddr.IPv6).toNormalizedString().split(':').slice(0, 4).join(':')}::/64`;
}

/**
 * `--max-connections-per-address`: one client (an address, an IPv6 /64) may hold at most this
 * many connections, so it cannot take all of `--max-connections` and lock everyone else out
 * (half-sent headers held to just before `--headers-timeout`, reopened as they are dropped).
 * Past it, a new connection is closed at once. Connections from this machine are capped only by
 * `--max-connections`: behind a reverse proxy on the same host every client comes from there.
 */
export function capConnectionsPerAddress(server: Server, max: number): void {
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const source = connectionSource(socket.remoteAddress);
    if (!source) return;
    const count = (open.get(source) ?? 0) + 1;
    if (count > max) return void socket.destroy();
    open.set(source, count);
    socket.once('close', () => {
      const left = (open.get(source) ?? 1) - 1;
      if (left > 0) open.set(source, left);
      else open.delete(source);
    });
  });
}
