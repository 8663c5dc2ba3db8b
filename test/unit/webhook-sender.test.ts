/**
 * The webhook sender against real receivers on loopback: what it reads of an answer is bounded
 * (a receiver streaming without end costs neither memory nor time), and its time limit covers
 * the whole attempt.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { systemResolve } from '../../server/webhooks/address-policy.js';
import { createSender } from '../../server/webhooks/sender.js';

const servers: http.Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
  }
});

/** A receiver on 127.0.0.1; resolves to its URL and how many body bytes it managed to write. */
async function receiver(handle: (req: http.IncomingMessage, res: http.ServerResponse, sent: { bytes: number }) => void) {
  const sent = { bytes: 0 };
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => handle(req, res, sent));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, sent };
}

/** Writes 64 KiB chunks for as long as the connection takes them. */
function endless(status: number) {
  return (_req: http.IncomingMessage, res: http.ServerResponse, sent: { bytes: number }) => {
    const chunk = Buffer.alloc(64 * 1024, 'x');
    res.writeHead(status, { 'content-type': 'text/plain' });
    const pump = () => {
      while (!res.destroyed && res.write(chunk)) sent.bytes += chunk.length;
      if (!res.destroyed) res.once('drain', pump);
    };
    pump();
  };
}

const send = createSender({ timeoutMs: 5_000, allowPrivate: true, resolve: systemResolve });

describe('webhook sender', () => {
  it.each([200, 500])('stops reading a receiver that answers %i with a body without end, and reports the status at once', async (status) => {
    const r = await receiver(endless(status));
    const started = Date.now();
    const result = await send(r.url, '{}', {});
    expect(result).toMatchObject({ status });
    expect(Date.now() - started).toBeLessThan(2_000);
    // What it took is the 64 KiB it reads plus what the sockets buffer, not the receiver's stream.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(r.sent.bytes).toBeLessThan(16 * 1024 * 1024);
  });

  it('ends an attempt whose receiver sends no answer within the time limit', async () => {
    const r = await receiver(() => {});
    const result = await createSender({ timeoutMs: 300, allowPrivate: true, resolve: systemResolve })(r.url, '{}', {});
    expect(result).toMatchObject({ status: null, error: 'no answer within 300 ms' });
    expect(result.ms).toBeLessThan(1_500);
  });

  it('counts a 2xx whose body trickles past the time limit as answered, every time, and ends the attempt at the limit', async () => {
    const r = await receiver((_req, res) => {
      res.writeHead(200);
      const drip = setInterval(() => (res.destroyed ? clearInterval(drip) : res.write('.')), 50);
    });
    const slowBody = createSender({ timeoutMs: 300, allowPrivate: true, resolve: systemResolve });
    for (let i = 0; i < 5; i++) {
      const result = await slowBody(r.url, '{}', {});
      expect(result).toMatchObject({ status: 200 });
      expect(result.ms).toBeLessThan(1_500);
    }
  });
});
