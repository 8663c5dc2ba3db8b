import http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../helpers/server.js';

/*
 * DNS rebinding (CONTRACT §14): while bound to loopback, only requests naming localhost,
 * 127.0.0.1 or [::1] (or --allowed-hosts) are answered; others get 421 on every path.
 */

let loopback: TestServer;
let lan: TestServer;

beforeAll(async () => {
  loopback = await startTestServer({ config: { allowedHosts: 'photos.lan, Studio.Example' } });
  lan = await startTestServer({ config: { host: '0.0.0.0' } });
});
afterAll(async () => {
  await loopback.close();
  await lan.close();
});

/** A request with a Host header of our choosing (fetch always sends the URL's). */
function get(server: TestServer, pathname: string, host: string, headers: Record<string, string> = {}) {
  return new Promise<{ status: number; body: string; contentType?: string }>((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.server.port, path: pathname, headers: { host, ...headers } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, contentType: res.headers['content-type'] }));
    });
    req.on('error', reject);
    req.end();
  });
}

const PATHS = ['/healthz', '/readyz', '/metrics', '/', '/library', '/v1/images', '/v1/keys', '/no/such/page'];

describe('Host header on a loopback-bound server', () => {
  it('answers 421 misdirected_request to a foreign name on every path, key or not', async () => {
    for (const pathname of PATHS) {
      for (const host of ['evil.example', `rebind.attacker.test:${loopback.server.port}`, '127.0.0.1.nip.io', 'localhost.evil.example']) {
        const res = await get(loopback, pathname, host, loopback.admin.headers());
        expect({ pathname, host, status: res.status }).toEqual({ pathname, host, status: 421 });
        expect(res.contentType).toMatch(/^application\/json/);
        const body = JSON.parse(res.body);
        expect(body.error.code).toBe('misdirected_request');
        expect(body.error.requestId).toBeTruthy();
      }
    }
  });

  it('answers 421 to a request without a Host header', async () => {
    const answer = await new Promise<string>((resolve) => {
      const socket = net.connect(loopback.server.port, '127.0.0.1', () => socket.write('GET /healthz HTTP/1.0\r\n\r\n'));
      let text = '';
      socket.on('data', (c: Buffer) => (text += c));
      socket.on('close', () => resolve(text));
    });
    expect(answer).toMatch(/^HTTP\/1\.1 421 /);
    expect(answer).toContain('"code":"misdirected_request"');
  });

  it('answers the loopback names with any port, and --allowed-hosts names', async () => {
    const port = loopback.server.port;
    for (const host of ['localhost', `localhost:${port}`, 'LocalHost:1', `127.0.0.1:${port}`, '127.0.0.1', '[::1]', `[::1]:${port}`, 'photos.lan:8080', 'studio.example']) {
      const res = await get(loopback, '/healthz', host);
      expect({ host, status: res.status }).toEqual({ host, status: 200 });
      const api = await get(loopback, '/v1/images', host, loopback.admin.headers());
      expect({ host, status: api.status }).toEqual({ host, status: 200 });
    }
    // As the desktop app and every test reach it: by the URL it printed.
    expect((await fetch(`${loopback.url}/healthz`)).status).toBe(200);
  });

  it('checks nothing when bound to all interfaces (LAN use)', async () => {
    for (const host of ['evil.example', 'nas.local:7410', '192.168.1.20']) {
      expect((await get(lan, '/healthz', host)).status).toBe(200);
      expect((await get(lan, '/v1/images', host, lan.admin.headers())).status).toBe(200);
    }
  });
});
