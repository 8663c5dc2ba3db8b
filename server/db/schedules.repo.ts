import { params, type SqlExecutor } from './sql-executor.js';

/** Which slots of the schedules (the purge's) some node has taken (migration 011). */
export interface SchedulesRepo {
  /**
   * Takes slot `slot` (the time it was scheduled for, epoch ms) of schedule `name`, once across
   * every node sharing the database: true for its first taker, false for every other (the same
   * slot fired on another node). One statement, so two nodes asking at once cannot both be first.
   */
  takeSlot(name: string, slot: number): Promise<boolean>;
  /** Forgets the slots of `name` before `before` (they will not fire again); how many. */
  forgetBefore(name: string, before: number): Promise<number>;
}

export function createSchedulesRepo(sql: SqlExecutor): SchedulesRepo {
  const slot = params<{ name: string; slot: number }>();
  // A slot is a row: taken by whoever inserts it. Rows rather than one "last slot" per schedule,
  // so a wall clock set back (by NTP, by hand) cannot make a schedule skip its slots until the
  // clock catches up again: only a slot taken already is refused.
  const take = sql.prepare(slot, (db) => db.insertInto('schedule_slots').values({ name: slot.name, slot: slot.slot }).onConflict((oc) => oc.doNothing()));
  const older = params<{ name: string; before: number }>();
  const forget = sql.prepare(older, (db) => db.deleteFrom('schedule_slots').where('name', '=', older.name).where('slot', '<', older.before));
  return {
    takeSlot: async (name, at) => (await take.run({ name, slot: at })) > 0,
    forgetBefore: (name, before) => forget.run({ name, before }),
  };
}
