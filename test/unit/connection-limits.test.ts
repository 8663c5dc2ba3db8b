import http from 'node:http';
import type { AddressInfo } from 'node:net';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createHttpServer } from '../../server/http/connection/http-server.js';

/*
 * --idle-timeout blames the client only: silence while the server works on a complete request
 * (an import by path, a slow query) is not idleness; a client that stops reading its answer is.
 * A real HTTP server with the server's connection limits and a handler that plays the slow part.
 */

let server: http.Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  server = undefined;
});

async function listen(handler: http.RequestListener, maxConnections = 100): Promise<number> {
  server = createHttpServer(handler, { headersTimeoutMs: 1_000, idleTimeoutMs: 500, maxConnections, maxConnectionsPerAddress: maxConnections });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

describe('--idle-timeout', () => {
  it('does not cut a complete request the server works on in silence for longer', async () => {
    const port = await listen((_req, res) => {
      setTimeout(() => res.end('worked 2 s'), 2_000);
    });
    const res = await fetch(`http://127.0.0.1:${port}/`);
    expect(await res.text()).toBe('worked 2 s');
  });

  it('closes a connection whose client stopped reading a long answer', async () => {
    let closedAt = 0;
    const port = await listen((_req, res) => {
      const chunk = Buffer.alloc(1024 * 1024);
      const write = () => {
        while (res.write(chunk));
        res.once('drain', write);
      };
      res.on('close', () => (closedAt = Date.now()));
      write();
    });
    const started = Date.now();
    const socket = net.connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'));
    socket.on('error', () => {});
    // Never reads: once the buffers are full, nothing moves.
    socket.pause();
    await new Promise((resolve) => server!.once('connection', resolve));
    const deadline = Date.now() + 5_000;
    while (!closedAt && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    socket.destroy();
    expect(closedAt).toBeGreaterThan(0);
    expect(closedAt - started).toBeGreaterThanOrEqual(500);
  });

  it('closes a keep-alive connection that sends nothing more', async () => {
    const port = await listen((_req, res) => res.end('ok'));
    const closed = new Promise<number>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'));
      const started = Date.now();
      socket.on('data', () => {});
      socket.on('close', () => resolve(Date.now() - started));
    });
    // Node's keep-alive timeout (5 s) would close it too; the idle timeout is shorter here.
    expect(await closed).toBeLessThan(4_000);
  });
});

describe('--max-connections', () => {
  it('refuses connections past the cap until one closes', async () => {
    const port = await listen((_req, res) => res.end('ok'), 3);
    const connect = () =>
      new Promise<{ socket: net.Socket; refused: Promise<boolean> }>((resolve) => {
        const socket = net.connect(port, '127.0.0.1', () => {
          // Refused: Node closes the connection as soon as it is accepted.
          const refused = new Promise<boolean>((r) => {
            const timer = setTimeout(() => r(false), 300);
            socket.once('close', () => {
              clearTimeout(timer);
              r(true);
            });
          });
          resolve({ socket, refused });
        });
        socket.on('error', () => {});
      });
    const held = [await connect(), await connect(), await connect()];
    for (const c of held) expect(await c.refused).toBe(false);
    const fourth = await connect();
    expect(await fourth.refused).toBe(true);
    held[0]!.socket.destroy();
    await new Promise((r) => setTimeout(r, 100));
    const again = await connect();
    expect(await again.refused).toBe(false);
    for (const c of [...held, again]) c.socket.destroy();
  });
});
