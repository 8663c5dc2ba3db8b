import type { Logger } from 'pino';
import type { NodeRow, NodesRepo } from '../db/nodes.repo.js';
import type { Clock } from '../util/clock.js';

/** `up`: heard from lately; `stopped`: it stopped cleanly; `unreachable`: neither stopped nor heard from for UNREACHABLE_AFTER heartbeats. */
export type NodeState = 'up' | 'stopped' | 'unreachable';

export interface NodeView {
  id: string;
  version: string;
  startedAt: number;
  lastSeenAt: number;
  jobsRunning: number;
  state: NodeState;
  /** The node answering. */
  self: boolean;
}

export const HEARTBEAT_MS = 5_000;
/** Heartbeats missed before a node is called unreachable: one late write is no outage. */
const UNREACHABLE_AFTER = 3;
/**
 * Rows of nodes not heard from in this long are removed at start: with the default node id
 * (host name + pid) every restart is a new node, and the list would grow without end.
 */
const FORGET_AFTER_MS = 7 * 24 * 3600_000;

/**
 * This node's row in the node registry (db/nodes.repo.ts): registered at start, kept fresh by a
 * heartbeat every few seconds with the number of jobs it runs, marked stopped at a clean stop.
 * Where the database allows one node at a time (SQLite), a start marks every other node stopped:
 * the data-dir lock proves their processes gone, so a crash of the previous process is not shown
 * as a node still up. Lists every node with its state, for GET /v1/nodes and the Status page.
 */
export function createNodeRegistry(deps: {
  nodes: NodesRepo;
  nodeId: string;
  version: string;
  clock: Clock;
  logger: Logger;
  /** Jobs running on this node now. */
  jobsRunning: () => number;
  soleNode: boolean;
  heartbeatMs?: number;
}) {
  const { nodes, nodeId, clock, logger } = deps;
  const heartbeatMs = deps.heartbeatMs ?? HEARTBEAT_MS;
  let timer: NodeJS.Timeout | undefined;
  let beating = false;

  const register = () => nodes.register({ id: nodeId, version: deps.version, at: clock.now() });

  async function beat() {
    if (beating) return;
    beating = true;
    try {
      // Gone (forgotten by a node that thought this one long dead, its clock far ahead): back in.
      if (!(await nodes.heartbeat(nodeId, clock.now(), deps.jobsRunning()))) await register();
    } catch (err) {
      // The database is busy or away: the next heartbeat tries again; three missed and the
      // others see this node as unreachable, which it then is, for them.
      logger.warn({ err }, 'could not write this node\'s heartbeat; trying again shortly');
    } finally {
      beating = false;
    }
  }

  function stateOf(row: NodeRow, now: number): NodeState {
    if (row.stopped_at !== null) return 'stopped';
    return now - row.last_seen_at > UNREACHABLE_AFTER * heartbeatMs ? 'unreachable' : 'up';
  }

  return {
    nodeId,
    async start() {
      const now = clock.now();
      await register();
      if (deps.soleNode) await nodes.markOthersStopped(nodeId, now);
      await nodes.forget(now - FORGET_AFTER_MS);
      timer = setInterval(() => void beat(), heartbeatMs);
      timer.unref();
    },
    /** Stops the heartbeat and marks this node stopped (best effort: a node that cannot is seen as unreachable). */
    async stop() {
      clearInterval(timer);
      try {
        await nodes.markStopped(nodeId, clock.now());
      } catch (err) {
        logger.warn({ err }, 'could not mark this node stopped in the registry');
      }
    },
    /** Every node known, most recently started first. */
    async list(): Promise<NodeView[]> {
      const now = clock.now();
      return (await nodes.list()).map((row) => ({
        id: row.id,
        version: row.version,
        startedAt: row.started_at,
        lastSeenAt: row.last_seen_at,
        jobsRunning: row.jobs_running,
        state: stateOf(row, now),
        self: row.id === nodeId,
      }));
    },
    /** Writes the heartbeat now (tests; the timer does it every `heartbeatMs`). */
    beat,
  };
}

export type NodeRegistry = ReturnType<typeof createNodeRegistry>;
