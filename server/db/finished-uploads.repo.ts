import { params, type SqlExecutor } from './sql-executor.js';

/**
 * Which image each finished resumable upload became (SQLite migration 016, PostgreSQL 009). The
 * row is written in the unit of work that records the image, so "has this upload been ingested"
 * has one answer on every node, whatever happened to the upload's record afterwards.
 */
export interface FinishedUploadsRepo {
  /** The image the upload became, if it was ingested. */
  imageOf(uploadId: string): Promise<string | undefined>;
  /** Notes that the upload became `imageId`; inside the unit of work that records the image. */
  record(uploadId: string, imageId: string, at: number): Promise<void>;
  /** Forgets uploads finished before `before` (their records are swept then too); how many. */
  forgetBefore(before: number): Promise<number>;
}

export function createFinishedUploadsRepo(sql: SqlExecutor): FinishedUploadsRepo {
  const byId = params<{ upload_id: string }>();
  const imageOf = sql.prepare(byId, (db) => db.selectFrom('finished_uploads').select('image_id').where('upload_id', '=', byId.upload_id));
  const row = params<{ upload_id: string; image_id: string; finished_at: number }>();
  const record = sql.prepare(row, (db) =>
    db.insertInto('finished_uploads').values({ upload_id: row.upload_id, image_id: row.image_id, finished_at: row.finished_at }),
  );
  const since = params<{ before: number }>();
  const forget = sql.prepare(since, (db) => db.deleteFrom('finished_uploads').where('finished_at', '<', since.before));
  return {
    imageOf: async (upload_id) => (await imageOf.first({ upload_id }))?.image_id,
    record: async (upload_id, image_id, finished_at) => void (await record.run({ upload_id, image_id, finished_at })),
    forgetBefore: (before) => forget.run({ before }),
  };
}
