import http from 'node:http';
import https from 'node:https';
import { guardedLookup, literalProblem, type Resolve } from './address-policy.js';

/** How one attempt ended: an answer (any status), or no answer and why. */
export type SendResult = { status: number; ms: number } | { status: null; error: string; ms: number };

export interface SenderOptions {
  timeoutMs: number;
  /** Off (`--webhook-allow-private`): any address may be called. */
  allowPrivate: boolean;
  resolve: Resolve;
}

const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * POSTs one webhook message with node:http(s). Redirects are not followed (a 3xx is an answer
 * like any other non-2xx: not delivered). The address connected to is checked through the
 * `lookup` hook unless private addresses are allowed. The answer's body is read (up to 64 KiB,
 * then the connection is dropped: a receiver streaming without end costs nothing) and ignored;
 * the whole attempt, connecting and the body included, ends within `timeoutMs`. Its outcome is
 * the status, when one arrived by then.
 */
export function createSender(options: SenderOptions) {
  const lookup = options.allowPrivate ? undefined : guardedLookup(options.resolve);

  return function send(url: string, body: string, headers: Record<string, string>, signal?: AbortSignal): Promise<SendResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    return new Promise<SendResult>((resolve) => {
      let target: URL;
      try {
        target = new URL(url);
      } catch {
        return resolve({ status: null, error: 'not a URL', ms: 0 });
      }
      if (!options.allowPrivate) {
        const problem = literalProblem(target.hostname);
        if (problem) return resolve({ status: null, error: `not called: ${problem}`, ms: 0 });
      }
      const client = target.protocol === 'https:' ? https : http;
      let settled = false;
      const finish = (result: SendResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve(result);
      };
      const req = client.request(target, {
        method: 'POST',
        // A fresh connection per attempt: its address is checked when it is made.
        agent: false,
        lookup: lookup as never,
        headers: {
          ...headers,
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': 'Darkroom-Webhooks/1',
        },
      });
      const timer = setTimeout(() => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
      const onAbort = () => req.destroy(new Error('stopped'));
      signal?.addEventListener('abort', onAbort, { once: true });
      let answered: number | undefined;
      req.on('response', (res) => {
        answered = res.statusCode ?? 0;
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_ANSWER_BYTES) res.destroy();
        });
        const done = () => finish({ status: res.statusCode ?? 0, ms: elapsed() });
        res.on('end', done);
        res.on('close', done);
        res.on('error', done);
      });
      req.on('error', (err: NodeJS.ErrnoException) => {
        // The status line came in time and only the body did not end (the time limit cut a
        // trickle short): the receiver answered, and that answer is the outcome. Counting it as
        // "no answer" would retry a message a 2xx had acknowledged.
        if (answered !== undefined) return finish({ status: answered, ms: elapsed() });
        const why = err.code === 'ERR_WEBHOOK_FORBIDDEN_ADDRESS' ? `not called: ${err.message}` : err.message || err.code || 'request failed';
        finish({ status: null, error: why, ms: elapsed() });
      });
      req.end(body);
    });
  };
}

export type Sender = ReturnType<typeof createSender>;
