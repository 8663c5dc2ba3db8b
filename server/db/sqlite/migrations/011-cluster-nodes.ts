/**
 * What several nodes sharing one database need of it (CONTRACT §9; docs/architecture.md,
 * "Cluster"). On SQLite there is only ever one node at a time (the data-dir lock), but the
 * schema is the same on every dialect so the engine has one shape.
 *
 * - `nodes`: the node registry. Each running node keeps its row's `last_seen_at` fresh (its
 *   heartbeat, with the jobs it runs); a clean stop sets `stopped_at`. A row neither stopped nor
 *   seen for a few heartbeats is a node that stopped answering (cluster/node-registry.ts).
 * - `jobs.lease_node`: the node holding a running job's lease. Leases are short and renewed by
 *   that node while the job runs; one that lapses is taken over by any node (jobs/runner.ts).
 * - `schedule_slots`: the slots (scheduled times) of each schedule (the purge's) that some node
 *   has taken, so a schedule firing on every node at once queues its work once
 *   (jobs/scheduler.ts). Old slots are pruned as new ones are taken.
 */
export const sql = /* sql */ `
CREATE TABLE nodes (
  id           TEXT PRIMARY KEY,
  version      TEXT NOT NULL,
  started_at   INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  jobs_running INTEGER NOT NULL DEFAULT 0,
  stopped_at   INTEGER
);

ALTER TABLE jobs ADD COLUMN lease_node TEXT;

CREATE TABLE schedule_slots (
  name TEXT NOT NULL,
  slot INTEGER NOT NULL,
  PRIMARY KEY (name, slot)
);
`;
