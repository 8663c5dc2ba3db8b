import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/**
 * `--idle-timeout`: a connection on which the *client* sends and takes nothing for this long is
 * closed. Node's socket timeout measures silence on the socket, whoever is to blame for it; on
 * its own it would also cut a request the server is still working on (an import of a 5 GB file
 * by path, a slow query answers nothing for minutes). So when the socket has been silent this
 * long, what it is waiting for decides:
 * - nothing (between requests, or a refused body being drained): closed;
 * - a request body that stopped arriving (a stalled upload): closed, which aborts the upload and
 *   makes its reader remove what it wrote;
 * - an answer the client stopped reading (bytes queued, none taken): closed;
 * - the server itself, working on a complete request: left alone.
 *
 * Half-sent headers are `--headers-timeout`'s (Node's headersTimeout), which is shorter.
 */
export function applyIdleTimeout(server: Server, idleMs: number): void {
  const inFlight = new WeakMap<Socket, Set<IncomingMessage>>();

  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const socket = req.socket;
    let requests = inFlight.get(socket);
    if (!requests) inFlight.set(socket, (requests = new Set()));
    requests.add(req);
    res.once('close', () => requests.delete(req));
  });

  // Node arms each socket's timer with server.timeout and re-arms it on every read and write (and
  // not while a write is making progress). With a 'timeout' listener on the server, Node leaves
  // the decision here instead of destroying the socket itself.
  server.timeout = idleMs;
  server.on('timeout', (socket: Socket) => {
    const requests = inFlight.get(socket);
    if (!requests?.size) return void socket.destroy();
    for (const req of requests) if (!req.complete) return void socket.destroy();
    if (socket.writableLength > 0) return void socket.destroy();
    // The server is working on a complete request; the answer's first bytes re-arm the timer.
  });
}
