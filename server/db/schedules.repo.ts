import { params, type SqlExecutor } from './sql-executor.js';

/** Which slots of the schedules (the purge's) some node has taken (migration 009). */
export interface SchedulesRepo {
  /**
   * Takes slot `slot` (the time it was scheduled for, epoch ms) of schedule `name`, once across
   * every node sharing the database: true for the first caller of a slot later than the last
   * one taken, false for every other (the same slot, fired on another node; an older one).
   * One statement, so two nodes asking at once cannot both be first.
   */
  takeSlot(name: string, slot: number): Promise<boolean>;
}

export function createSchedulesRepo(sql: SqlExecutor): SchedulesRepo {
  const slot = params<{ name: string; slot: number }>();
  // An upsert whose update only moves forward: the row changes (one row counted) for the first
  // taker of a new slot, and not at all for a slot taken already.
  const take = sql.prepare(slot, (db) =>
    db
      .insertInto('schedule_slots')
      .values({ name: slot.name, last_slot: slot.slot })
      .onConflict((oc) =>
        oc
          .column('name')
          .doUpdateSet((eb) => ({ last_slot: eb.ref('excluded.last_slot') }))
          .where((eb) => eb('schedule_slots.last_slot', '<', eb.ref('excluded.last_slot'))),
      ),
  );
  return {
    takeSlot: async (name, at) => (await take.run({ name, slot: at })) > 0,
  };
}
