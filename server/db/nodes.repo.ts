import { sql as literal, type Selectable } from 'kysely';
import type { NodesTable } from './schema.js';
import { params, type SqlExecutor } from './sql-executor.js';

export type NodeRow = Selectable<NodesTable>;

/**
 * The node registry (migration 011): which nodes share this database, and when each was last
 * heard of. Every node writes only its own row, except at a SQLite start, where the data-dir
 * lock proves every other row's process gone (markOthersStopped).
 */
export interface NodesRepo {
  /** Starts (or restarts, under the same id) this node's row: up, seen now, no jobs running. */
  register(node: { id: string; version: string; at: number }): Promise<void>;
  /** The heartbeat: seen at `at`, running `jobsRunning` jobs. False when the row is gone (forgotten meanwhile). */
  heartbeat(id: string, at: number, jobsRunning: number): Promise<boolean>;
  /** A clean stop: the row stays, marked stopped, with no jobs running. */
  markStopped(id: string, at: number): Promise<void>;
  /** Marks every other node not stopped yet as stopped: for a start that knows it is alone (SQLite). */
  markOthersStopped(id: string, at: number): Promise<number>;
  /** Every node, most recently started first. */
  list(): Promise<NodeRow[]>;
  /** Removes the rows of nodes not seen since `before` (a default node id is new at every start); how many. */
  forget(before: number): Promise<number>;
}

export function createNodesRepo(sql: SqlExecutor): NodesRepo {
  const node = params<{ id: string; version: string; at: number }>();
  // One statement: a node restarting under the same id takes its row over as new.
  const register = sql.prepare(node, (db) =>
    db
      .insertInto('nodes')
      .values({ id: node.id, version: node.version, started_at: node.at, last_seen_at: node.at, jobs_running: literal.lit(0), stopped_at: null })
      .onConflict((oc) =>
        oc.column('id').doUpdateSet((eb) => ({
          version: eb.ref('excluded.version'),
          started_at: eb.ref('excluded.started_at'),
          last_seen_at: eb.ref('excluded.last_seen_at'),
          jobs_running: literal.lit(0),
          stopped_at: null,
        })),
      ),
  );
  const beat = params<{ id: string; at: number; jobs_running: number }>();
  const heartbeat = sql.prepare(beat, (db) =>
    db.updateTable('nodes').set({ last_seen_at: beat.at, jobs_running: beat.jobs_running }).where('id', '=', beat.id),
  );
  const stamp = params<{ id: string; at: number }>();
  const markStopped = sql.prepare(stamp, (db) =>
    db.updateTable('nodes').set({ stopped_at: stamp.at, jobs_running: literal.lit(0) }).where('id', '=', stamp.id),
  );
  const markOthersStopped = sql.prepare(stamp, (db) =>
    db
      .updateTable('nodes')
      .set({ stopped_at: stamp.at, jobs_running: literal.lit(0) })
      .where('id', '<>', stamp.id)
      .where('stopped_at', 'is', null),
  );
  const list = sql.prepare(params(), (db) => db.selectFrom('nodes').selectAll().orderBy('started_at', 'desc').orderBy('id'));
  const since = params<{ before: number }>();
  const forget = sql.prepare(since, (db) => db.deleteFrom('nodes').where('last_seen_at', '<', since.before));

  return {
    register: async ({ id, version, at }) => void (await register.run({ id, version, at })),
    heartbeat: async (id, at, jobsRunning) => (await heartbeat.run({ id, at, jobs_running: jobsRunning })) > 0,
    markStopped: async (id, at) => void (await markStopped.run({ id, at })),
    markOthersStopped: (id, at) => markOthersStopped.run({ id, at }),
    list: () => list.all(),
    forget: (before) => forget.run({ before }),
  };
}
