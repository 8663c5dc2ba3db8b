import dns from 'node:dns';
import net from 'node:net';
import ipaddr from 'ipaddr.js';

/** One address a host name resolves to. */
export interface ResolvedAddress {
  address: string;
  family: number;
}

/**
 * Resolves a host name to every address it has. DNS by default (`dnsResolve`); tests pass their
 * own to play DNS (a name that resolves publicly once and to 127.0.0.1 the next time).
 */
export type Resolve = (hostname: string) => Promise<ResolvedAddress[]>;

/**
 * Resolves through DNS with c-ares (`dns.Resolver`), not getaddrinfo (`dns.lookup`), and gives
 * up after `timeoutMs` a try. getaddrinfo runs on libuv's thread pool (4 threads, shared with
 * every file read and write) and holds a thread for as long as the name's DNS takes to answer, a
 * time-out of the request does not free it: a customer whose domain's DNS never answers could
 * hold every thread with a few registrations or deliveries and stall the server's disk I/O.
 * c-ares waits on the event loop. It does not read /etc/hosts, which only matters for names
 * whose addresses are private anyway, or with --webhook-allow-private, which does not use this.
 */
export function dnsResolve(options: { timeoutMs?: number; tries?: number; servers?: string[] } = {}): Resolve {
  const resolver = new dns.promises.Resolver({ timeout: options.timeoutMs ?? 2_000, tries: options.tries ?? 2 });
  if (options.servers) resolver.setServers(options.servers);
  return async (hostname) => {
    const [v4, v6] = await Promise.allSettled([resolver.resolve4(hostname), resolver.resolve6(hostname)]);
    const found: ResolvedAddress[] = [
      ...(v4.status === 'fulfilled' ? v4.value.map((address) => ({ address, family: 4 })) : []),
      ...(v6.status === 'fulfilled' ? v6.value.map((address) => ({ address, family: 6 })) : []),
    ];
    if (!found.length) throw v4.status === 'rejected' ? v4.reason : Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' });
    return found;
  };
}

export const systemResolve: Resolve = dnsResolve();

/**
 * Why an address may not be called, or undefined when it may: anything but ordinary public
 * unicast. ipaddr.js names the ranges (loopback, private, linkLocal, uniqueLocal,
 * carrierGradeNat, unspecified, multicast, broadcast, reserved, 6to4, teredo, …); an IPv4
 * address mapped into IPv6 (`::ffff:127.0.0.1`) is judged as the IPv4 address it is.
 */
export function forbiddenRange(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return 'not an IP address';
  let parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()) parsed = (parsed as ipaddr.IPv6).toIPv4Address();
  const range = parsed.range();
  // ::/96 less :: and ::1: the deprecated IPv4-compatible addresses (RFC 4291), `::127.0.0.1`,
  // which ipaddr.js calls unicast. Nothing public lives there, and a stack that still maps them
  // onto IPv4 would connect to the address inside.
  if (range === 'unicast' && parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).parts.slice(0, 6).every((p) => p === 0)) return 'ipv4Compatible';
  return range === 'unicast' ? undefined : range;
}

/** A host name or address literal (without the brackets of an IPv6 literal in a URL). */
const bareHost = (hostname: string) => hostname.replace(/^\[(.*)\]$/, '$1');

export class ForbiddenAddressError extends Error {
  readonly code = 'ERR_WEBHOOK_FORBIDDEN_ADDRESS';
}

/**
 * Why a URL's host may not receive webhooks, or undefined when it may: the literal address, or
 * every address its name resolves to, must be public. Used at registration; delivery checks
 * the address it connects to (`guardedLookup`), as the name may resolve differently by then.
 */
export async function hostProblem(hostname: string, resolve: Resolve): Promise<string | undefined> {
  const host = bareHost(hostname);
  if (net.isIP(host)) {
    const range = forbiddenRange(host);
    return range ? `${host} is a ${range} address` : undefined;
  }
  let addresses: ResolvedAddress[];
  try {
    addresses = await resolve(host);
  } catch {
    return `${host} does not resolve`;
  }
  if (!addresses.length) return `${host} does not resolve`;
  for (const { address } of addresses) {
    const range = forbiddenRange(address);
    if (range) return `${host} resolves to ${address}, a ${range} address`;
  }
  return undefined;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | dns.LookupAddress[], family?: number) => void;

/**
 * A `lookup` for http.request (net.connect calls it to resolve the host it then connects to):
 * resolves with `resolve` and refuses, before any connection, a name with any address that is
 * not public. So what is checked is what is connected to: a name that resolved publicly at
 * registration and to 127.0.0.1 now (DNS rebinding) is not called. Literal addresses skip
 * lookup in Node; `literalProblem` checks those.
 */
export function guardedLookup(resolve: Resolve) {
  return (hostname: string, options: dns.LookupOptions, callback: LookupCallback) => {
    resolve(hostname).then(
      (found) => {
        const wanted = options.family === 4 || options.family === 6 ? found.filter((a) => a.family === options.family) : found;
        const bad = wanted.find((a) => forbiddenRange(a.address));
        if (bad) return callback(new ForbiddenAddressError(`${hostname} resolves to ${bad.address}, a ${forbiddenRange(bad.address)} address`), '');
        if (!wanted.length) return callback(Object.assign(new Error(`${hostname} does not resolve`), { code: 'ENOTFOUND' }), '');
        if (options.all) return callback(null, wanted);
        callback(null, wanted[0]!.address, wanted[0]!.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, ''),
    );
  };
}

/** For a URL whose host is an address literal (no lookup happens): why it may not be called. */
export function literalProblem(hostname: string): string | undefined {
  const host = bareHost(hostname);
  if (!net.isIP(host)) return undefined;
  const range = forbiddenRange(host);
  return range ? `${host} is a ${range} address` : undefined;
}
