import type { Db } from './connection.js';

/** The one number the desktop's badge shows: images not finished yet. */
export function createProgressRepo(db: Db) {
  const unfinished = db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM images WHERE status IN ('queued', 'processing')`);
  return { countUnfinished: () => unfinished.get()!.n };
}
