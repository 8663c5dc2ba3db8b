/**
 * Webhooks cannot be pointed at the server's own network (CONTRACT §11): a URL whose host is or
 * resolves to a non-public address is refused at registration, and at delivery the address
 * checked is the one connected to, so a name that resolves publicly at registration and to
 * 127.0.0.1 afterwards (DNS rebinding) is not called. The server runs without
 * --webhook-allow-private; the resolver is the test's, to play DNS.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ResolvedAddress } from '../../server/webhooks/address-policy.js';
import { eventually } from '../helpers/eventually.js';
import { startTestServer, type ApiClient, type TestServer } from '../helpers/server.js';
import { startReceiver, type Receiver } from '../helpers/webhook-receiver.js';

const PUBLIC = '93.184.216.34';
/** Names this test's DNS knows; `rebind.test` answers publicly once, then 127.0.0.1. */
let rebindLookups = 0;
const dns: Record<string, () => ResolvedAddress[]> = {
  'public.test': () => [{ address: PUBLIC, family: 4 }],
  'private.test': () => [{ address: '10.0.0.5', family: 4 }],
  'mixed.test': () => [
    { address: PUBLIC, family: 4 },
    { address: 'fd00::1', family: 6 },
  ],
  'localhost': () => [{ address: '127.0.0.1', family: 4 }],
  'localhost.': () => [{ address: '127.0.0.1', family: 4 }],
  'rebind.test': () => [{ address: rebindLookups++ === 0 ? PUBLIC : '127.0.0.1', family: 4 }],
};
const resolve = async (hostname: string) => {
  const answer = dns[hostname];
  if (!answer) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
  return answer();
};

let t: TestServer;
let user: ApiClient;
let r: Receiver;

beforeAll(async () => {
  t = await startTestServer({ config: { webhookRetrySchedule: '1h' }, start: { webhookResolve: resolve } });
  user = await t.client('user', 'acme');
  r = await startReceiver();
});
afterAll(async () => {
  await t?.close();
  await r?.close();
});

const register = (url: string) => user.json('POST', '/v1/webhooks', { url, events: ['*'] });

describe('webhook SSRF protection', () => {
  it.each([
    ['loopback', 'http://127.0.0.1/hook'],
    ['loopback, another address', 'http://127.8.9.10:8080/hook'],
    ['loopback IPv6', 'http://[::1]/hook'],
    ['private 10/8', 'http://10.1.2.3/hook'],
    ['private 172.16/12', 'http://172.16.0.1/hook'],
    ['private 172.31', 'https://172.31.255.254/hook'],
    ['private 192.168/16', 'http://192.168.1.1/hook'],
    ['link-local (cloud metadata)', 'http://169.254.169.254/latest/meta-data'],
    ['link-local IPv6', 'http://[fe80::1]/hook'],
    ['unique-local fc00::/7', 'http://[fc00::1]/hook'],
    ['unique-local fd00::/8', 'http://[fd12:3456::1]/hook'],
    ['CGNAT 100.64/10', 'http://100.64.0.1/hook'],
    ['IPv4-mapped loopback', 'http://[::ffff:127.0.0.1]/hook'],
    ['IPv4-mapped private', 'http://[::ffff:10.0.0.1]/hook'],
    ['unspecified', 'http://0.0.0.0/hook'],
    ['unspecified IPv6', 'http://[::]/hook'],
    ['multicast', 'http://224.0.0.1/hook'],
    ['broadcast', 'http://255.255.255.255/hook'],
    ['a loopback address in hex', 'http://0x7f000001/hook'],
    ['a loopback address in decimal', 'http://2130706433/hook'],
    ['a loopback address in octal', 'http://0177.0.0.1/hook'],
    ['a loopback address shortened', 'http://127.1/hook'],
    ['a loopback address percent-encoded', 'http://%31%32%37.0.0.1/hook'],
    ['IPv4-compatible IPv6 loopback', 'http://[::127.0.0.1]/hook'],
    ['NAT64 of a private address', 'http://[64:ff9b::10.0.0.1]/hook'],
    ['an IPv6 address with a zone id', 'http://[fe80::1%25eth0]/hook'],
    ['localhost with a trailing dot', 'http://localhost./hook'],
    ['a user name and password', 'https://user:secret@public.test/hook'],
    ['a name resolving to a private address', 'http://private.test/hook'],
    ['a name with one private address among public ones', 'http://mixed.test/hook'],
    ['localhost', 'http://localhost:8080/hook'],
    ['a name that does not resolve', 'http://nowhere.test/hook'],
    ['another scheme', 'ftp://public.test/hook'],
    ['not a URL', 'not a url'],
  ])('refuses %s at registration with 400 invalid_request', async (_what, url) => {
    const res = await register(url);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    expect(res.body.error.message).toMatch(/^url: /);
  });

  it('accepts a name that resolves to public addresses only', async () => {
    expect((await register('https://public.test/hook')).status).toBe(201);
  });

  it('refuses a URL changed to a private host', async () => {
    const { body } = await register('https://public.test/hook');
    const res = await user.json('PATCH', `/v1/webhooks/${body.id}`, { url: 'http://192.168.0.10/' });
    expect(res.status).toBe(400);
    expect((await user.json('GET', `/v1/webhooks/${body.id}`)).body.url).toBe('https://public.test/hook');
  });

  it('does not call a name that resolved publicly at registration and resolves to 127.0.0.1 at delivery', async () => {
    const created = await register(`http://rebind.test:${r.port}/hook`);
    expect(created.status).toBe(201);
    expect(rebindLookups).toBe(1);
    const { id } = created.body;
    await user.json('POST', `/v1/webhooks/${id}/test`);
    const delivery = await eventually(async () => (await user.json('GET', `/v1/webhooks/${id}/deliveries`)).body.items.find((d: any) => d.attempts > 0), 15_000, 'an attempt');
    expect(delivery).toMatchObject({ status: 'pending', lastStatus: null });
    expect(delivery.lastError).toMatch(/not called: rebind\.test resolves to 127\.0\.0\.1, a loopback address/);
    expect(rebindLookups).toBeGreaterThan(1);
    expect(r.received).toHaveLength(0);
  });
});
