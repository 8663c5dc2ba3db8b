/** Which addresses webhooks may reach (CONTRACT §11), and the connect-time lookup that enforces it. */
import dns from 'node:dns';
import { describe, expect, it } from 'vitest';
import { forbiddenRange, guardedLookup, hostProblem, type Resolve } from '../../server/webhooks/address-policy.js';
import { jittered } from '../../server/jobs/handlers/deliver-webhook.js';
import { signature, signedHeaders, newSecret } from '../../server/webhooks/signing.js';
import { Webhook } from 'standardwebhooks';

describe('webhook address policy', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['::1', 'loopback'],
    ['10.255.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['192.168.0.1', 'private'],
    ['169.254.169.254', 'linkLocal'],
    ['fe80::1', 'linkLocal'],
    ['fc00::1', 'uniqueLocal'],
    ['fd00::1', 'uniqueLocal'],
    ['100.64.0.1', 'carrierGradeNat'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:192.168.1.1', 'private'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['224.0.0.251', 'multicast'],
    ['ff02::1', 'multicast'],
    ['::7f00:1', 'ipv4Compatible'],
    ['::a00:1', 'ipv4Compatible'],
    ['64:ff9b::7f00:1', 'rfc6052'],
    ['2002:7f00:1::', '6to4'],
  ])('refuses %s (%s)', (address, range) => {
    expect(forbiddenRange(address)).toBe(range);
  });

  it.each(['93.184.216.34', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700::1111', '::ffff:93.184.216.34'])('lets public %s through', (address) => {
    expect(forbiddenRange(address)).toBeUndefined();
  });

  it('judges every address a name resolves to', async () => {
    const resolve: Resolve = async () => [
      { address: '93.184.216.34', family: 4 },
      { address: '10.0.0.1', family: 4 },
    ];
    expect(await hostProblem('mixed.test', resolve)).toBe('mixed.test resolves to 10.0.0.1, a private address');
    expect(await hostProblem('[::1]', resolve)).toBe('::1 is a loopback address');
  });

  it('refuses at lookup time, for a single address and for all of them (happy eyeballs asks for all)', async () => {
    const lookup = guardedLookup(async (host) => (host === 'evil.test' ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '93.184.216.34', family: 4 }]));
    const ask = (host: string, options: dns.LookupOptions) =>
      new Promise<unknown>((resolve) => lookup(host, options, (err, address, family) => resolve(err ? err.message : { address, family })));
    expect(await ask('evil.test', {})).toBe('evil.test resolves to 127.0.0.1, a loopback address');
    expect(await ask('evil.test', { all: true })).toBe('evil.test resolves to 127.0.0.1, a loopback address');
    expect(await ask('good.test', {})).toEqual({ address: '93.184.216.34', family: 4 });
    expect(await ask('good.test', { all: true })).toEqual({ address: [{ address: '93.184.216.34', family: 4 }], family: undefined });
  });
});

describe('webhook signing and retries', () => {
  it('signs as the standardwebhooks library does, with both secrets after a rotation', () => {
    const secret = newSecret();
    const previous = newSecret();
    const now = Date.now();
    const body = '{"type":"webhook.test"}';
    expect(signature(secret, 'msg_1', Math.floor(now / 1000), body)).toBe(new Webhook(secret).sign('msg_1', new Date(now), body));
    const headers = signedHeaders({ id: 'msg_1', body, secrets: [secret, previous], now });
    expect(new Webhook(secret).verify(body, headers)).toEqual({ type: 'webhook.test' });
    expect(new Webhook(previous).verify(body, headers)).toEqual({ type: 'webhook.test' });
  });

  it('jitters each step of the schedule by up to a fifth either way', () => {
    expect(jittered(10_000, () => 0)).toBe(8_000);
    expect(jittered(10_000, () => 0.5)).toBe(10_000);
    expect(jittered(10_000, () => 0.999999)).toBe(12_000);
  });
});
