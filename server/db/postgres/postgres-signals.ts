import crypto from 'node:crypto';
import pg from 'pg';
import type { Logger } from 'pino';
import { SIGNAL_CHANNEL_NAMES, type ClusterSignals, type SignalChannel, type SignalPayloads } from '../../cluster/signals.js';

export interface PostgresSignalsOptions {
  /** The database every node shares (--database-url). */
  url: string;
  /** How long to wait for a connection, in ms. */
  connectTimeoutMs?: number;
  logger?: Pick<Logger, 'warn' | 'info'>;
  /** Reconnect backoff of the listening connection: first wait and ceiling, in ms. */
  reconnect?: { minMs: number; maxMs: number };
  /** How often the listening connection is checked with a query (a half-open TCP connection raises no error), in ms. */
  healthCheckEveryMs?: number;
}

/** The cluster signals on PostgreSQL, plus what tests look at. */
export interface PostgresSignals extends ClusterSignals {
  /** The server process id of the listening connection (for pg_terminate_backend in tests); undefined while it is down. */
  listenerPid(): number | undefined;
  /** Resolves once the listening connection is up and listening (at once when it is). */
  listening(): Promise<void>;
}

/**
 * PostgreSQL's limit on a NOTIFY payload is 8000 bytes: a larger one is refused, which would
 * fail the whole batch it is sent in. Every payload here is a few ids; one past this is a bug,
 * logged and not sent.
 */
const MAX_PAYLOAD_BYTES = 7_900;
/** Notifications sent in one statement at most (a burst of status changes). */
const BATCH = 200;

/** What travels in a notification: the payload, and which adapter sent it (its own are already delivered). */
interface Envelope {
  from: string;
  payload: unknown;
}

/** The statement that sends notifications, in order: one per (channel, text) pair. */
export const NOTIFY_STATEMENT = 'SELECT pg_notify(c, p) FROM unnest($1::text[], $2::text[]) AS t(c, p)';

/** A notification's channel name and text for a payload published by the adapter `from`. */
export function notification<C extends SignalChannel>(channel: C, payload: SignalPayloads[C], from: string): [string, string] {
  return [SIGNAL_CHANNEL_NAMES[channel], JSON.stringify({ from, payload } satisfies Envelope)];
}

const CHANNEL_OF_NAME = new Map(Object.entries(SIGNAL_CHANNEL_NAMES).map(([channel, name]) => [name, channel as SignalChannel]));

/**
 * The cluster signals port (cluster/signals.ts) over PostgreSQL's LISTEN/NOTIFY.
 *
 * - Listening: one dedicated connection (a pooled one would lose its LISTENs when handed back),
 *   LISTENing on every Darkroom channel (`darkroom_*`). When it drops (the server restarted, a
 *   network cut, pg_terminate_backend), it is opened again with backoff (250 ms doubling to
 *   10 s) and LISTENs again; notifications sent meanwhile are gone, so once back it tells the
 *   `jobs` subscribers to look at once. Meanwhile the runners' idle poll finds committed jobs,
 *   and an event stream misses the changes of other nodes (it is a live view; the records have
 *   them). A query every 15 s finds a connection that died without a word (half-open TCP).
 * - Publishing: `pg_notify` on a second connection of its own (a pool of one), outside any
 *   transaction, after the commit of what it announces (every publisher publishes after its
 *   commit, cluster/signals.ts). One connection sends in the order published, so a node's
 *   status changes arrive everywhere in the order it made them; publishes made while one
 *   statement is under way go together in the next. A publish that fails (the database is down)
 *   is dropped and logged: signals are hints.
 * - This adapter's own subscribers get its publishes at once, synchronously, as in-process
 *   signals do (so a node's own event streams and runner do not depend on the round trip or on
 *   the listening connection); the copy that comes back through LISTEN is recognised by the
 *   adapter's random id and skipped.
 */
export async function openPostgresSignals(options: PostgresSignalsOptions): Promise<PostgresSignals> {
  const { url, logger } = options;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  const minBackoff = options.reconnect?.minMs ?? 250;
  const maxBackoff = options.reconnect?.maxMs ?? 10_000;
  const healthEvery = options.healthCheckEveryMs ?? 15_000;
  const self = crypto.randomUUID();
  const subscribers = new Map<SignalChannel, Set<(payload: never) => void>>();
  let closed = false;

  const deliver = (channel: SignalChannel, payload: unknown) => {
    for (const listener of [...(subscribers.get(channel) ?? [])]) {
      try {
        (listener as (p: unknown) => void)(payload);
      } catch {
        // A subscriber's failure is its own; the others still get the payload.
      }
    }
  };

  // ---- Publishing --------------------------------------------------------------------------
  const publisher = new pg.Pool({
    connectionString: url,
    max: 1,
    connectionTimeoutMillis: connectTimeoutMs,
    query_timeout: connectTimeoutMs,
    keepAlive: true,
    application_name: 'darkroom-signals',
  });
  // An idle publishing connection that fails is dropped by the pool; the next publish opens one.
  publisher.on('error', (err) => logger?.warn({ err }, 'the signals publishing connection failed while idle'));
  const pending: Array<[string, string]> = [];
  let flushing: Promise<void> | undefined;
  const flush = async () => {
    while (pending.length && !closed) {
      const batch = pending.splice(0, BATCH);
      try {
        await publisher.query(NOTIFY_STATEMENT, [batch.map((n) => n[0]), batch.map((n) => n[1])]);
      } catch (err) {
        logger?.warn({ err, dropped: batch.length }, 'could not publish cluster signals; other nodes find the work by polling');
      }
    }
    flushing = undefined;
  };

  // ---- Listening ---------------------------------------------------------------------------
  let client: pg.Client | undefined;
  let failures = 0;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let healthTimer: NodeJS.Timeout | undefined;
  let waiters: Array<() => void> = [];

  const onNotification = (message: pg.Notification) => {
    const channel = CHANNEL_OF_NAME.get(message.channel);
    if (!channel || message.payload === undefined) return;
    let envelope: Envelope;
    try {
      envelope = JSON.parse(message.payload) as Envelope;
    } catch {
      return; // Not ours (someone NOTIFYing by hand): ignored.
    }
    if (envelope.from === self) return;
    deliver(channel, envelope.payload);
  };

  /** The listening connection `c` is gone (error, end, failed check): open another after a backoff. */
  const lost = (c: pg.Client, err?: unknown) => {
    if (client !== c) return; // Already handled (an 'error' is followed by an 'end').
    client = undefined;
    clearInterval(healthTimer);
    c.removeAllListeners('notification');
    c.end().catch(() => undefined);
    if (closed) return;
    logger?.warn({ err }, 'the cluster signals connection dropped; listening again shortly (runners poll meanwhile)');
    scheduleConnect();
  };

  const scheduleConnect = () => {
    const wait = Math.min(maxBackoff, minBackoff * 2 ** failures);
    failures++;
    reconnectTimer = setTimeout(() => void connect(true), wait);
    reconnectTimer.unref();
  };

  const connect = async (again: boolean) => {
    if (closed) return;
    // A health query may take as long as the interval between two before the connection counts
    // as lost: on a loaded machine a 5 s limit tripped now and then, and every reconnect loses
    // the notifications sent meanwhile. A dead connection is still found within two intervals.
    const c = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: connectTimeoutMs,
      query_timeout: Math.max(connectTimeoutMs, healthEvery),
      keepAlive: true,
      application_name: 'darkroom-signals',
    });
    // Without a listener a failing connection's 'error' would end the process.
    c.on('error', (err) => lost(c, err));
    c.on('end', () => lost(c));
    c.on('notification', onNotification);
    try {
      await c.connect();
      // Channel names are identifiers of our own (SIGNAL_CHANNEL_NAMES), never input.
      await c.query(Object.values(SIGNAL_CHANNEL_NAMES).map((name) => `LISTEN ${name};`).join(' '));
    } catch (err) {
      c.removeAllListeners();
      c.on('error', () => undefined);
      c.end().catch(() => undefined);
      if (closed) return;
      if (failures === 0) logger?.warn({ err }, 'could not listen for cluster signals; trying again shortly');
      scheduleConnect();
      return;
    }
    if (closed) {
      await c.end().catch(() => undefined);
      return;
    }
    client = c;
    failures = 0;
    healthTimer = setInterval(() => {
      c.query('SELECT 1').catch((err: unknown) => lost(c, err));
    }, healthEvery);
    healthTimer.unref();
    for (const resolve of waiters.splice(0)) resolve();
    if (again) {
      logger?.info('listening for cluster signals again');
      // Whatever was announced while this node was not listening is lost: look for jobs now.
      deliver('jobs', {});
    }
  };

  await connect(false);

  return {
    crossProcess: true,

    publish<C extends SignalChannel>(channel: C, payload: SignalPayloads[C]) {
      if (closed) return;
      deliver(channel, payload);
      const [name, text] = notification(channel, payload, self);
      if (Buffer.byteLength(text) > MAX_PAYLOAD_BYTES) {
        logger?.warn({ channel, bytes: Buffer.byteLength(text) }, 'a cluster signal too large for NOTIFY was not sent to other nodes');
        return;
      }
      pending.push([name, text]);
      flushing ??= flush();
    },

    subscribe<C extends SignalChannel>(channel: C, listener: (payload: SignalPayloads[C]) => void) {
      let set = subscribers.get(channel);
      if (!set) subscribers.set(channel, (set = new Set()));
      set.add(listener as (payload: never) => void);
      return () => void set.delete(listener as (payload: never) => void);
    },

    listenerPid: () => (client as (pg.Client & { processID?: number }) | undefined)?.processID,

    listening: () => (client ? Promise.resolve() : new Promise<void>((resolve) => waiters.push(resolve))),

    async close() {
      // What was published before the close is still sent (the last status changes of a stop).
      await flushing;
      closed = true;
      clearTimeout(reconnectTimer);
      clearInterval(healthTimer);
      const c = client;
      client = undefined;
      subscribers.clear();
      waiters = [];
      await Promise.all([c?.end().catch(() => undefined), publisher.end().catch(() => undefined)]);
    },
  };
}
