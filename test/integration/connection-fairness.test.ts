import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { connectionSource } from '../../server/http/connection/per-address.js';
import { eventually } from '../helpers/eventually.js';
import { solid } from '../helpers/images.js';
import { lanAddress } from '../helpers/network.js';
import { ApiClient, startTestServer, type TestServer } from '../helpers/server.js';

/*
 * One client cannot take every connection or upload slot from the others (CONTRACT §13):
 * --max-uploads-per-key bounds the uploads one key holds open, --max-connections-per-address
 * the connections of one address.
 */

const servers: TestServer[] = [];
const sockets: Array<net.Socket | http.ClientRequest> = [];
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.map((s) => s.close()));
});

async function start(config: Record<string, string>) {
  const t = await startTestServer({ config });
  servers.push(t);
  return t;
}

/** An upload whose client sends its headers and a first piece of body, and then waits. */
function stalledUpload(url: string, key: string, first: Buffer) {
  const req = http.request(`${url}/v1/image`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'image/png', 'content-length': String(first.length + 1_000_000) },
  });
  req.on('error', () => {});
  req.write(first);
  sockets.push(req);
  return req;
}

describe('--max-uploads-per-key', () => {
  it('refuses a key its 4th upload at once with 429 and Retry-After while 3 are open; other keys go on; a finished one frees its slot', async () => {
    const t = await start({ maxUploadsPerKey: '3' });
    const user = await t.client('user', 'hoarder');
    const neighbour = await t.client('user', 'neighbour');
    const png = await solid(32, 32, 'png');
    // Noise: a PNG of some 30 KB, whose first 8 KB are judged an image and written to a temp file.
    const noise = await sharp({ create: { width: 100, height: 100, channels: 3, background: '#000', noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).png().toBuffer();
    const held = [1, 2, 3].map(() => stalledUpload(t.url, user.key!, noise.subarray(0, 8192)));
    // All three are being received (their temp files exist) before the fourth is sent.
    await eventually(() => fs.readdirSync(path.join(t.dataDir, 'tmp')).length === 3 || undefined, 5_000, 'three uploads in flight');

    const fourth = await user.uploadRaw(png, 'fourth.png', 'image/png');
    expect([fourth.status, fourth.body.error.code]).toEqual([429, 'too_many_requests']);
    expect(Number(fourth.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(fourth.body.error.message).toMatch(/at most 3 uploads at once per key/);
    expect((await neighbour.uploadRaw(png, 'other.png', 'image/png')).status).toBe(202);
    // Reading is not uploading.
    expect((await user.json('GET', '/v1/images')).status).toBe(200);

    held[0]!.destroy();
    await eventually(async () => (await user.uploadRaw(png, 'later.png', 'image/png')).status === 202 || undefined, 5_000, 'a freed slot');
  });
});

describe('--max-connections-per-address', () => {
  it('closes the connections one address opens past the cap, and nobody else is locked out', async () => {
    const t = await start({ host: '0.0.0.0', maxConnectionsPerAddress: '5' });
    const lan = lanAddress();
    const open = (host: string) =>
      new Promise<net.Socket>((resolve) => {
        const socket = net.connect(t.server.port, host, () => resolve(socket));
        socket.on('error', () => {});
        sockets.push(socket);
      });
    // Five connections from the LAN address holding half-sent headers: the most it may hold.
    const held = await Promise.all(Array.from({ length: 5 }, () => open(lan)));
    for (const s of held) s.write('GET /v1/images HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    const sixth = await open(lan);
    const closed = await Promise.race([
      new Promise<boolean>((resolve) => sixth.once('close', () => resolve(true))),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 2_000)),
    ]);
    expect(closed).toBe(true);
    // This machine is not counted against the cap (a reverse proxy on the same host).
    const local = new ApiClient(t.url.replace('0.0.0.0', '127.0.0.1'), t.admin.key);
    expect((await local.json('GET', '/v1/images')).status).toBe(200);
    // A connection the address gives up makes room for another.
    held[0]!.destroy();
    await eventually(async () => {
      const res = await fetch(`http://${lan}:${t.server.port}/healthz`).catch(() => undefined);
      return res?.status === 200 || undefined;
    }, 5_000, 'room for a new connection');
  });

  it('counts an IPv4 address alone and an IPv6 address by its /64, and never this machine', () => {
    expect(connectionSource('192.168.1.20')).toBe('192.168.1.20');
    expect(connectionSource('::ffff:192.168.1.20')).toBe('192.168.1.20');
    expect(connectionSource('2001:db8:1:2:aaaa::1')).toBe(connectionSource('2001:db8:1:2:bbbb:cccc:dddd:eeee'));
    expect(connectionSource('2001:db8:1:2::1')).not.toBe(connectionSource('2001:db8:1:3::1'));
    expect(connectionSource('127.0.0.1')).toBeUndefined();
    expect(connectionSource('::1')).toBeUndefined();
    expect(connectionSource('::ffff:127.0.0.1')).toBeUndefined();
  });
});
