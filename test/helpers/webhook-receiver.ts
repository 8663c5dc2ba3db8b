import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export interface ReceivedMessage {
  headers: Record<string, string>;
  body: string;
  at: number;
}

/** What the receiver answers to the nth request (from 1): a status, after an optional delay; `hang`: never. */
export type Answer = { status: number; delayMs?: number; headers?: Record<string, string> } | 'hang';

/**
 * A real webhook receiver on 127.0.0.1 (port 0): records every request and answers as `answer`
 * says. `verify` checks a message with the `standardwebhooks` library, as a receiver would.
 */
export async function startReceiver(answer: (n: number, message: ReceivedMessage) => Answer = () => ({ status: 204 })) {
  const received: ReceivedMessage[] = [];
  const open = new Set<http.ServerResponse>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const message: ReceivedMessage = { headers: req.headers as Record<string, string>, body, at: Date.now() };
      received.push(message);
      const a = answer(received.length, message);
      if (a === 'hang') {
        open.add(res);
        return;
      }
      const reply = () => res.writeHead(a.status, a.headers).end();
      if (a.delayMs) {
        open.add(res);
        setTimeout(() => {
          open.delete(res);
          if (!res.destroyed) reply();
        }, a.delayMs);
      } else reply();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}/hook`,
    received,
    ids: () => received.map((m) => m.headers['webhook-id']!),
    close: async () => {
      for (const res of open) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export type Receiver = Awaited<ReturnType<typeof startReceiver>>;

/** The message's payload when it verifies with `secret` (standardwebhooks throws otherwise). */
export function verify(secret: string, message: ReceivedMessage): { type: string; timestamp: string; data: any } {
  return new Webhook(secret).verify(message.body, message.headers) as { type: string; timestamp: string; data: any };
}
