/**
 * How webhook hosts are resolved: through DNS on the event loop (c-ares), against a real DNS
 * server on loopback. A name whose DNS never answers fails within the resolver's time limit and
 * holds none of the thread pool that file I/O needs.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dnsResolve } from '../../server/webhooks/address-policy.js';

const A = 1;
/** `public.test`: A 93.184.216.34 (no AAAA); `silent.test`: never answered; anything else: NXDOMAIN. */
let server: dgram.Socket;
let servers: string[];

/** The question's name and type, and where the question ends. */
function question(query: Buffer): { name: string; type: number; end: number } {
  const labels: string[] = [];
  let at = 12;
  while (query[at]! > 0) {
    labels.push(query.subarray(at + 1, at + 1 + query[at]!).toString('ascii'));
    at += 1 + query[at]!;
  }
  return { name: labels.join('.').toLowerCase(), type: query.readUInt16BE(at + 1), end: at + 5 };
}

function answer(query: Buffer): Buffer | undefined {
  const q = question(query);
  if (q.name === 'silent.test') return undefined;
  const known = q.name === 'public.test';
  const withAddress = known && q.type === A;
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // the id
  header.writeUInt16BE(0x8180 | (known ? 0 : 3), 2); // a response, recursion available; NXDOMAIN when unknown
  header.writeUInt16BE(1, 4); // one question
  header.writeUInt16BE(withAddress ? 1 : 0, 6);
  const record = Buffer.from([0xc0, 0x0c, 0, A, 0, 1, 0, 0, 0, 60, 0, 4, 93, 184, 216, 34]);
  return Buffer.concat([header, query.subarray(12, q.end), withAddress ? record : Buffer.alloc(0)]);
}

beforeAll(async () => {
  server = dgram.createSocket('udp4');
  server.on('message', (msg, from) => {
    const reply = answer(msg);
    if (reply) server.send(reply, from.port, from.address);
  });
  await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
  servers = [`127.0.0.1:${server.address().port}`];
});
afterAll(() => server?.close());

describe('webhook DNS resolution', () => {
  it('resolves a name to its addresses', async () => {
    expect(await dnsResolve({ servers })('public.test')).toEqual([{ address: '93.184.216.34', family: 4 }]);
  });

  it('fails for a name that does not exist', async () => {
    await expect(dnsResolve({ servers })('nowhere.test')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('gives up on a name whose DNS never answers within its time limit, and file I/O goes on meanwhile', async () => {
    const resolve = dnsResolve({ servers, timeoutMs: 300, tries: 2 });
    const started = Date.now();
    // More than the thread pool's 4 threads: with getaddrinfo these would hold them all.
    const pending = Array.from({ length: 8 }, (_, i) => resolve(`silent.test`).then(() => i, (err: NodeJS.ErrnoException) => err.code));
    const readStarted = Date.now();
    for (let i = 0; i < 20; i++) await fs.promises.readFile(new URL(import.meta.url));
    expect(Date.now() - readStarted).toBeLessThan(250);
    expect(await Promise.all(pending)).toEqual(Array(8).fill('ETIMEOUT'));
    expect(Date.now() - started).toBeLessThan(3_000);
  });
});
