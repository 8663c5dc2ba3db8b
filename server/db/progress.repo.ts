import { sql as literal } from 'kysely';
import type { ImageStatus } from '../api/enums.js';
import { params, type SqlExecutor } from './sql-executor.js';

export interface ProgressRepo {
  /** The one number the desktop's badge shows: images not finished yet. */
  countUnfinished(): Promise<number>;
}

export function createProgressRepo(sql: SqlExecutor): ProgressRepo {
  const unfinished = sql.prepare(params(), (db) =>
    db
      .selectFrom('images')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('status', 'in', [literal.lit<ImageStatus>('queued'), literal.lit<ImageStatus>('processing')]),
  );
  return { countUnfinished: async () => (await unfinished.first())!.n };
}
