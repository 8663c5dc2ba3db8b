import type { ImageStatus } from '../api/enums.js';

/**
 * The cluster signals port: "something happened: wake up, tell the others". A node publishes on
 * a channel; every subscriber of that channel on every node sharing the database gets the
 * payload, once, this node's own subscribers included. Signals are hints, never the record:
 * what they announce is in the database already (committed before the publish), so a signal
 * lost (a node reconnecting, a crash) delays work until the next poll and loses nothing.
 *
 * Adapters:
 * - in-process (cluster/in-process-signals.ts): an EventEmitter. It reaches this process alone,
 *   which is all there is where the database is SQLite (one node per data dir). Delivery is
 *   synchronous, as the emitters it replaced were.
 * - PostgreSQL (db/postgres/postgres-signals.ts, with --database-url): `pg_notify` on channels
 *   `darkroom_*`, after the commit of what it announces; each node LISTENs on one dedicated
 *   connection, reopened with backoff when it drops (the runners' idle poll is the safety net
 *   meanwhile). A node's own subscribers get its publishes at once, as in-process; the copy
 *   coming back through LISTEN is skipped. Payloads are JSON under PostgreSQL's 8000-byte limit.
 *   A NOTIFY sent inside a transaction would be delivered only at its commit and dropped at its
 *   rollback; publishing after the commit keeps the port free of transactions and never
 *   announces rolled-back work either.
 */
export interface ClusterSignals {
  publish<C extends SignalChannel>(channel: C, payload: SignalPayloads[C]): void;
  /** Calls `listener` with every payload published on `channel` from now on; returns the unsubscribe. */
  subscribe<C extends SignalChannel>(channel: C, listener: (payload: SignalPayloads[C]) => void): () => void;
  /**
   * Whether signals published by other processes on the same database arrive here (PostgreSQL:
   * yes). Where they do not (in-process), work committed by another process (a CLI command on
   * the same data dir) is found only by polling, so pollers keep a short interval.
   */
  readonly crossProcess: boolean;
  /** Sends what was published, stops listening and delivering. */
  close(): Promise<void>;
}

/** An image of `customer` changed status (what `/v1/events` streams). */
export interface ImageStatusSignal {
  id: string;
  customer: string;
  status: ImageStatus;
}

export interface SignalPayloads {
  /** An image status change, from the node whose job or upload made it. */
  'image.status': ImageStatusSignal;
  /** Jobs were committed (dispatched events, a watch-folder ingest, the purge): runners, look now. */
  jobs: Record<string, never>;
  /** These jobs' rows were cancelled or deleted (a reprocess, a delete): whichever node runs them stops them. */
  'jobs.cancelled': { ids: number[] };
}

export type SignalChannel = keyof SignalPayloads;

/** Channel names as the database sees them (PostgreSQL: LISTEN "darkroom_image_status"). */
export const SIGNAL_CHANNEL_NAMES: Record<SignalChannel, string> = {
  'image.status': 'darkroom_image_status',
  jobs: 'darkroom_jobs',
  'jobs.cancelled': 'darkroom_jobs_cancelled',
};
