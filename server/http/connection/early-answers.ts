import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** How much of a refused body is read and thrown away so the client can read the answer. */
export const DRAIN_BUDGET_BYTES = 16 * 1024 * 1024;
/** How long after the answer a refused body is drained at most. */
export const DRAIN_MAX_MS = 5_000;
/** After the budget: how long the client has to read the answer before the socket is closed. */
const CLOSE_GRACE_MS = 2_000;
const DRAIN_CHECK_MS = 20;

export interface DrainOptions {
  budgetBytes?: number;
  maxMs?: number;
}

/**
 * Keeps answers given before the request body was read (401, 403, 413, 415, 422, 429, 503, 507
 * and any other) readable by the client.
 *
 * Closing a socket while the client's bytes are still unread makes the kernel send a reset, and
 * a reset throws away whatever the client had not read yet: the answer. fetch then reports EPIPE
 * or ECONNRESET instead of the 413 it was sent. So once such an answer has been written, the rest
 * of the body is read and discarded, up to a byte and a time budget:
 * - a keep-alive answer keeps the connection: when the body has arrived it serves the next
 *   request; a body past the budget closes it;
 * - an answer that closes the connection (see `closesAfterEarlyAnswer`, or a client that asked
 *   for `Connection: close`) sends FIN right after the answer and drains while the client reads
 *   it, then closes. Node would destroy such a socket as soon as the answer is written; the
 *   closing is taken over for the duration of the drain.
 */
export function keepEarlyAnswersReadable(server: Server, options: DrainOptions = {}): void {
  const budgetBytes = options.budgetBytes ?? DRAIN_BUDGET_BYTES;
  const maxMs = options.maxMs ?? DRAIN_MAX_MS;
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    // 'prefinish': the answer is complete but Node has not yet decided what to do with the
    // socket (it does on 'finish').
    res.once('prefinish', () => {
      if (!req.complete) drainAfterAnswer(req, res, budgetBytes, maxMs);
    });
  });
}

/**
 * Whether an answer to a request whose body is still unread should close the connection: when
 * the body is larger than the drain budget (it would be cut anyway), or when the client sent
 * "Expect: 100-continue" (it may hold the body back for good once it has a final answer, and the
 * connection would wait for it).
 */
export function closesAfterEarlyAnswer(req: IncomingMessage, budgetBytes = DRAIN_BUDGET_BYTES): boolean {
  if (req.complete) return false;
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > budgetBytes) return true;
  return /100-continue/i.test(req.headers.expect ?? '');
}

type ClosableSocket = Socket & { destroySoon: () => void };

function drainAfterAnswer(req: IncomingMessage, res: ServerResponse, budgetBytes: number, maxMs: number): void {
  // A request that stream.pipeline destroyed has let go of its socket; the response has it.
  const socket = (res.socket ?? req.socket) as ClosableSocket | null;
  if (!socket || socket.destroyed) return;
  const startBytes = socket.bytesRead;
  const deadline = Date.now() + maxMs;
  let closing = false;
  let closeAt: number | undefined;

  // Node ends a `Connection: close` answer with socket.destroySoon(): FIN, then destroy as soon
  // as the answer is written, with the body unread. Instead: FIN, and destroy once drained.
  socket.destroySoon = () => {
    closing = true;
    socket.end();
  };
  discardBody(req, socket);

  const check = setInterval(() => {
    if (socket.destroyed) return stop();
    if (req.complete) {
      stop();
      // Everything the client sent is read, so closing now sends no reset.
      if (closing) socket.destroy();
      return;
    }
    if (closeAt === undefined && (socket.bytesRead - startBytes > budgetBytes || Date.now() > deadline)) {
      // Enough: read no more, say so (FIN), and leave the client a moment to read the answer
      // before the unread bytes make the close a reset. On loopback 16 MiB pass in a few
      // milliseconds, sooner than a busy client gets round to reading; a client that has read
      // the answer closes by itself (fetch does as soon as it has it).
      socket.pause();
      socket.end();
      closeAt = Date.now() + CLOSE_GRACE_MS;
    }
    if (closeAt !== undefined && Date.now() > closeAt) {
      stop();
      socket.destroy();
    }
  }, DRAIN_CHECK_MS);
  check.unref();
  const stop = () => {
    clearInterval(check);
    // Node's own destroySoon (on the prototype) again.
    Reflect.deleteProperty(socket, 'destroySoon');
  };
}

/**
 * Makes the parser throw the rest of the body away instead of handing it to the request.
 * IncomingMessage._dump is what Node's server itself calls on a body nobody read; unlike
 * resume() it also works for a request that a failed stream.pipeline destroyed (pushing into it
 * would pause the socket for good). The socket may have been paused by backpressure from a
 * reader that gave up (an unpiped multipart parser, tus's store): it reads again.
 */
function discardBody(req: IncomingMessage, socket: Socket): void {
  const dump = (req as IncomingMessage & { _dump?: () => void })._dump;
  if (typeof dump === 'function') dump.call(req);
  else {
    req.removeAllListeners('data');
    req.resume();
  }
  socket.resume();
}
