import { Router, type Response } from 'express';
import type { ImageStatusEvent as ImageStatusData } from '../../api/index.js';
import type { ImageStatusSignal } from '../../cluster/signals.js';
import { AppError } from '../../errors.js';
import { ROLE_RULES, principalOf, requireRole } from '../middleware/auth.js';
import { noQuery } from '../validate.js';

export interface EventsRoutesOptions {
  /** A comment line this often keeps proxies and idle timers from closing a quiet stream. */
  heartbeatMs?: number;
  /**
   * Whether a key may still be used. Asked about the key of every open stream once a
   * `keyCheckMs`, so a key revoked anywhere (the API, or `darkroom keys revoke` in another
   * process on the same data dir) ends its streams within that time.
   */
  isKeyActive?: (keyId: string) => Promise<boolean>;
  keyCheckMs?: number;
}

/** Open streams one key may hold (CONTRACT §14); one more is 429. */
export const MAX_STREAMS_PER_KEY = 20;
const KEY_CHECK_MS = 1_000;
const FINISH_GRACE_MS = 1_000;

// A client that stops reading must not make the server buffer without end: past this it is cut
// off, reconnects (EventSource does so by itself) and reloads what it shows.
const MAX_BUFFERED_BYTES = 1024 * 1024;

/**
 * Ends a stream: at once for a client that reads it. For one that stopped reading, the end would
 * wait behind what it has not read, and so would a plain close (the kernel keeps trying to
 * deliver it): a moment later the connection is reset, which frees it on both sides.
 */
function finish(res: Response) {
  if (res.destroyed) return;
  res.end();
  setTimeout(() => {
    if (!res.writableFinished) res.socket?.resetAndDestroy();
  }, FINISH_GRACE_MS).unref();
}

/** Where status changes come from: the cluster signals' `image.status` (every node's, in a cluster). */
export type SubscribeToStatus = (listener: (event: ImageStatusSignal) => void) => () => void;

/**
 * `GET /v1/events`: server-sent events. Every image status change of the caller's customer
 * arrives as `event: image.status` with `{id, status}` (admins, who see every customer's images,
 * get every customer's events), whichever node the change happened on. Returns the router and a
 * close() that ends every open stream, so shutting down does not wait for them.
 */
export function eventsRouter(subscribe: SubscribeToStatus, options: EventsRoutesOptions = {}) {
  const router = Router();
  const open = new Set<Response>();
  /** The open streams of each key. */
  const byKey = new Map<string, Set<Response>>();
  const heartbeatMs = options.heartbeatMs ?? 15_000;

  let keyCheck: NodeJS.Timeout | undefined;
  const checkKeys = async () => {
    for (const [keyId, streams] of byKey) {
      let active: boolean | undefined;
      try {
        active = await options.isKeyActive?.(keyId);
      } catch {
        continue; // the database is busy: asked again at the next check
      }
      if (active !== false) continue;
      for (const res of streams) finish(res);
    }
  };

  router.get('/events', requireRole(...ROLE_RULES.images), noQuery, (req, res) => {
    // A HEAD is answered with the headers alone: it must not hold a stream slot or its socket.
    if (req.method === 'HEAD') {
      res.status(200).type('text/event-stream; charset=utf-8').setHeader('Cache-Control', 'no-cache, no-transform');
      return void res.end();
    }
    const principal = principalOf(res);
    const ofKey = byKey.get(principal.keyId) ?? new Set<Response>();
    if (ofKey.size >= MAX_STREAMS_PER_KEY) {
      throw new AppError('too_many_requests', `at most ${MAX_STREAMS_PER_KEY} open event streams per key; close one first`, {
        'Retry-After': '5',
      });
    }
    byKey.set(principal.keyId, ofKey);
    ofKey.add(res);
    if (options.isKeyActive && !keyCheck) {
      keyCheck = setInterval(() => void checkKeys(), options.keyCheckMs ?? KEY_CHECK_MS);
      keyCheck.unref();
    }
    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    // Tells nginx and the like not to buffer the stream.
    res.setHeader('X-Accel-Buffering', 'no');
    // A stream ends with its connection (EventSource reconnects on a new one), so an ended
    // stream frees its socket at once instead of idling as a keep-alive connection.
    res.setHeader('Connection', 'close');
    res.flushHeaders();
    req.socket.setNoDelay(true);

    const send = (chunk: string) => {
      // Ended (its key revoked, the server stopping) but not yet closed: nothing more goes out.
      if (res.writableEnded || res.destroyed) return;
      if (res.writableLength > MAX_BUFFERED_BYTES) return void res.destroy();
      res.write(chunk);
    };
    const onStatus = (event: ImageStatusSignal) => {
      if (principal.role !== 'admin' && event.customer !== principal.customer) return;
      const data: ImageStatusData = { id: event.id, status: event.status };
      send(`event: image.status\ndata: ${JSON.stringify(data)}\n\n`);
    };
    // How long a client waits before reconnecting after the stream drops.
    send('retry: 2000\n: connected\n\n');
    const unsubscribe = subscribe(onStatus);
    const heartbeat = setInterval(() => send(': keep-alive\n\n'), heartbeatMs);
    heartbeat.unref();
    open.add(res);
    res.on('close', () => {
      clearInterval(heartbeat);
      unsubscribe();
      open.delete(res);
      ofKey.delete(res);
      if (!ofKey.size) byKey.delete(principal.keyId);
      if (!open.size) {
        clearInterval(keyCheck);
        keyCheck = undefined;
      }
    });
  });

  return {
    router,
    close() {
      clearInterval(keyCheck);
      for (const res of open) finish(res);
    },
  };
}
