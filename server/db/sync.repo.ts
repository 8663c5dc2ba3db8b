import { sql as literal, type Selectable } from 'kysely';
import { EXTENSIONS } from '../media/formats.js';
import type { EventType, JobQueue, JobStatus, SyncJobKind } from '../jobs/kinds.js';
import type { JobsTable, OutboxTable, S3OriginalsTable, S3SyncPartsTable, S3SyncStateTable } from './schema.js';
import { params, type SqlExecutor } from './sql-executor.js';

/** The object operations of the S3 sync: job kind `sync_<op>` of the `sync` queue. */
export type SyncOp = 'put_original' | 'put_processed' | 'delete_original' | 'delete_processed' | 'delete_image';

/** An operation to queue: its lane, the object key below the prefix, and what it is about. */
export interface NewSyncJob {
  op: SyncOp;
  lane: string;
  /** Object key below the prefix; for `delete_image` the key prefix of the image's processed files. */
  key: string;
  imageId?: string | null;
  sha256?: string | null;
  variant?: string | null;
  bytes?: number;
  /** Attempts before it is given up (--job-max-attempts). */
  maxAttempts: number;
}

/** A sync job's payload as stored (JSON in `jobs.payload`); sync/sync-job.ts reads it. */
export interface SyncPayload {
  key: string;
  imageId?: string | null;
  sha256?: string | null;
  variant?: string | null;
  bytes?: number;
  /** The multipart upload in progress, resumed by the next attempt. */
  uploadId?: string | null;
  partSize?: number | null;
}

export type SyncStateRow = Selectable<S3SyncStateTable>;
export type OriginalRow = Selectable<S3OriginalsTable>;
export type PartRow = Omit<Selectable<S3SyncPartsTable>, 'job_id' | 'upload_id'>;
export type NewPart = { jobId: number; uploadId: string; partNumber: number; etag: string; crc32: string; bytes: number };
/** An outbox event as the sync's feeder reads it. */
export type SyncEventRow = Omit<Selectable<OutboxTable>, 'type'> & { type: EventType };
/** A sync operation given up; sync/sync-job.ts reads its payload. */
export type FailedSyncJobRow = Omit<Selectable<JobsTable>, 'kind' | 'status'> & { kind: SyncJobKind; status: 'failed' };

export interface SyncBacklog {
  jobs: number;
  bytes: number;
  /** When the oldest waiting operation was queued; null when none waits. */
  oldest: number | null;
}

/**
 * Every query of the S3 sync: its operations (jobs of the `sync` queue, claimed and run by the
 * job engine; these are the sync's own reads and writes of them), the multipart parts, the
 * originals it tracks, its counters and its cursor in the outbox.
 *
 * Methods marked "in a unit of work" write more than one statement, or check and then act:
 * call them on the repositories of a unit of work so nothing runs in between.
 */
export interface SyncRepo {
  state(): Promise<SyncStateRow>;
  /** Outbox events after `cursor`, oldest first. */
  eventsAfter(cursor: number, limit: number): Promise<SyncEventRow[]>;
  setCursor(cursor: number): Promise<void>;
  /** Outbox events the sync has not read yet. */
  unfedEvents(): Promise<number>;

  /**
   * Queues one object operation; false when it was not needed: an upload identical to the one
   * already waiting at the end of its lane is not queued twice (a hundred uploads of the same
   * bytes make one upload). In a unit of work.
   */
  enqueue(job: NewSyncJob, now: number): Promise<boolean>;
  /** Failed operations are queued again, with their attempts from zero (POST /v1/sync/retry); how many. */
  retryFailed(now: number): Promise<number>;

  /** Records (or, with null, drops) the multipart upload of a job, forgetting its parts. In a unit of work. */
  setUpload(jobId: number, uploadId: string | null, partSize: number | null): Promise<void>;
  /** The multipart upload a job has in progress, if any. */
  uploadOf(jobId: number): Promise<string | null>;
  /** The parts of that upload stored so far, in order. */
  parts(jobId: number, uploadId: string): Promise<PartRow[]>;
  addPart(part: NewPart): Promise<void>;

  backlog(): Promise<SyncBacklog>;
  failedCount(): Promise<number>;
  /** The operations given up most recently, newest first. */
  failedRecent(limit: number): Promise<FailedSyncJobRow[]>;

  addSynced(bytes: number): Promise<void>;
  addDeleted(objects: number): Promise<void>;

  original(sha256: string): Promise<OriginalRow | undefined>;
  /** The original is on local disk now (uploaded, or brought back from the bucket). */
  originalIsLocal(sha256: string, bytes: number, now: number): Promise<void>;
  /** A verified copy of the original is in the bucket. */
  originalSynced(sha256: string, bytes: number, local: boolean, now: number): Promise<void>;
  originalGoneLocally(sha256: string): Promise<void>;
  /** The bucket copy was deleted: forget the original entirely unless an image uses it again. In a unit of work. */
  originalDeletedRemotely(sha256: string): Promise<void>;
  /** The local copy was removed to make room, its bytes counted. In a unit of work. */
  originalEvicted(sha256: string, bytes: number): Promise<void>;
  /** Least-recently-used bookkeeping, written at most once a minute per original. */
  touchOriginal(sha256: string, now: number): Promise<void>;
  /**
   * Originals that may leave the disk, least recently used first: those whose bucket copy is
   * verified and settled (no upload or delete of theirs pending) and that no processing job is
   * about to read.
   */
  evictable(limit: number): Promise<OriginalRow[]>;
  /** Originals in use whose only copy is the bucket's. */
  evicted(): Promise<{ originals: number; bytes: number }>;

  /** Images whose original has these bytes. */
  imagesUsing(sha256: string): Promise<number>;
  /** The format of an image with these bytes, if any. */
  formatOf(sha256: string): Promise<string | undefined>;

  /**
   * The bucket (or prefix) changed, or sync is on for the first time: start from what is stored
   * now. Every original and every processed file in place is queued for upload, and the outbox
   * cursor moves to its end (older events describe history this already covers). In a unit of work.
   */
  startFresh(target: string, now: number, maxAttempts: number): Promise<void>;
}

export function createSyncRepo(sql: SqlExecutor): SyncRepo {
  // The constants that select partial indexes (`jobs_due_by_queue`: status = 'queued';
  // `s3_originals_lru`: local = 1 AND synced_at IS NOT NULL) are literals, so SQLite uses them.
  const SYNC = literal.lit<JobQueue>('sync');
  const QUEUED = literal.lit<JobStatus>('queued');
  const FAILED = literal.lit<JobStatus>('failed');
  const RUNNING = literal.lit<JobStatus>('running');

  const state = sql.prepare(params(), (db) => db.selectFrom('s3_sync_state').selectAll().where('id', '=', literal.lit(1)));
  const cursor = params<{ cursor: number }>();
  const setCursor = sql.prepare(cursor, (db) => db.updateTable('s3_sync_state').set({ outbox_cursor: cursor.cursor }).where('id', '=', literal.lit(1)));
  const after = params<{ cursor: number; limit: number }>();
  const eventsAfter = sql.prepare(after, (db) =>
    db.selectFrom('outbox').selectAll().where('id', '>', after.cursor).orderBy('id').limit(after.limit).$narrowType<{ type: EventType }>(),
  );
  const unfed = sql.prepare(params(), (db) =>
    db
      .selectFrom('outbox')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('id', '>', (eb) => eb.selectFrom('s3_sync_state').select('outbox_cursor').where('id', '=', literal.lit(1))),
  );

  const inLane = params<{ lane: string }>();
  const lastInLane = sql.prepare(inLane, (db, fns) =>
    db
      .selectFrom('jobs')
      .select(['kind', 'status', fns.jsonText('payload', 'key').as('key')])
      .where('lane', '=', inLane.lane)
      .orderBy('id', 'desc')
      .limit(1),
  );
  const job = params<{ kind: SyncJobKind; lane: string; payload: string; max_attempts: number; now: number }>();
  const insert = sql.prepare(job, (db) =>
    db.insertInto('jobs').values({
      kind: job.kind,
      queue: SYNC,
      lane: job.lane,
      payload: job.payload,
      status: QUEUED,
      max_attempts: job.max_attempts,
      run_at: job.now,
      created_at: job.now,
    }),
  );
  const upload = params<{ id: number; upload_id: string | null; part_size: number | null }>();
  const setUpload = sql.prepare(upload, (db, fns) =>
    db
      .updateTable('jobs')
      .set({
        payload: fns.jsonSet('payload', [
          ['uploadId', literal.val(upload.upload_id)],
          // Cast, so every dialect writes a JSON number (a bare parameter has no type on PostgreSQL).
          ['partSize', literal<number | null>`cast(${literal.val(upload.part_size)} as bigint)`],
        ]),
      })
      .where('id', '=', upload.id)
      .where('queue', '=', SYNC),
  );
  const byJob = params<{ id: number }>();
  const uploadOf = sql.prepare(byJob, (db, fns) =>
    db.selectFrom('jobs').select(fns.jsonText('payload', 'uploadId').as('upload_id')).where('id', '=', byJob.id).where('queue', '=', SYNC),
  );
  const clearParts = sql.prepare(byJob, (db) => db.deleteFrom('s3_sync_parts').where('job_id', '=', byJob.id));
  const ofUpload = params<{ job_id: number; upload_id: string }>();
  const parts = sql.prepare(ofUpload, (db) =>
    db
      .selectFrom('s3_sync_parts')
      .select(['part_number', 'etag', 'crc32', 'bytes'])
      .where('job_id', '=', ofUpload.job_id)
      .where('upload_id', '=', ofUpload.upload_id)
      .orderBy('part_number'),
  );
  const part = params<Selectable<S3SyncPartsTable>>();
  const addPart = sql.prepare(part, (db) =>
    db
      .insertInto('s3_sync_parts')
      .values({ job_id: part.job_id, upload_id: part.upload_id, part_number: part.part_number, etag: part.etag, crc32: part.crc32, bytes: part.bytes })
      // A part number recorded again (sent again, or by a new upload of the job) replaces the first.
      .onConflict((oc) =>
        oc.columns(['job_id', 'part_number']).doUpdateSet((eb) => ({
          upload_id: eb.ref('excluded.upload_id'),
          etag: eb.ref('excluded.etag'),
          crc32: eb.ref('excluded.crc32'),
          bytes: eb.ref('excluded.bytes'),
        })),
      ),
  );

  const backlog = sql.prepare(params(), (db, fns) =>
    db
      .selectFrom('jobs')
      .select((eb) => [
        eb.fn.countAll<number>().as('jobs'),
        eb.fn.sum<number | null>(eb.cast<number>(fns.jsonText('payload', 'bytes'), 'bigint')).as('bytes'),
        eb.fn.min<number | null>('created_at').as('oldest'),
      ])
      .where('queue', '=', SYNC)
      .where('status', '=', QUEUED),
  );
  const failedCount = sql.prepare(params(), (db) =>
    db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('queue', '=', SYNC)
      .where('status', '=', FAILED),
  );
  const limited = params<{ limit: number }>();
  const failedRecent = sql.prepare(limited, (db) =>
    db
      .selectFrom('jobs')
      .selectAll()
      .where('queue', '=', SYNC)
      .where('status', '=', FAILED)
      .orderBy('finished_at', 'desc')
      .orderBy('id', 'desc')
      .limit(limited.limit)
      .$narrowType<{ kind: SyncJobKind; status: 'failed' }>(),
  );
  const at = params<{ now: number }>();
  const retryFailed = sql.prepare(at, (db) =>
    db
      .updateTable('jobs')
      .set({ status: QUEUED, attempts: literal.lit(0), run_at: at.now, finished_at: null })
      .where('queue', '=', SYNC)
      .where('status', '=', FAILED),
  );

  const counted = params<{ n: number }>();
  const addSynced = sql.prepare(counted, (db) =>
    db
      .updateTable('s3_sync_state')
      .set((eb) => ({ synced_objects: eb('synced_objects', '+', literal.lit(1)), synced_bytes: eb('synced_bytes', '+', counted.n) }))
      .where('id', '=', literal.lit(1)),
  );
  const addDeleted = sql.prepare(counted, (db) =>
    db
      .updateTable('s3_sync_state')
      .set((eb) => ({ deleted_objects: eb('deleted_objects', '+', counted.n) }))
      .where('id', '=', literal.lit(1)),
  );
  const addEvicted = sql.prepare(counted, (db) =>
    db
      .updateTable('s3_sync_state')
      .set((eb) => ({ evicted_originals: eb('evicted_originals', '+', literal.lit(1)), evicted_bytes: eb('evicted_bytes', '+', counted.n) }))
      .where('id', '=', literal.lit(1)),
  );

  const bySha = params<{ sha256: string }>();
  const original = sql.prepare(bySha, (db) => db.selectFrom('s3_originals').selectAll().where('sha256', '=', bySha.sha256));
  const local = params<{ sha256: string; bytes: number; now: number }>();
  const upsertLocal = sql.prepare(local, (db) =>
    db
      .insertInto('s3_originals')
      .values({ sha256: local.sha256, bytes: local.bytes, local: literal.lit(1), last_used_at: local.now })
      .onConflict((oc) => oc.column('sha256').doUpdateSet((eb) => ({ local: literal.lit(1), last_used_at: eb.ref('excluded.last_used_at') }))),
  );
  const synced = params<{ sha256: string; bytes: number; local: 0 | 1; now: number }>();
  const markSynced = sql.prepare(synced, (db) =>
    db
      .insertInto('s3_originals')
      .values({ sha256: synced.sha256, bytes: synced.bytes, local: synced.local, synced_at: synced.now, last_used_at: synced.now })
      .onConflict((oc) => oc.column('sha256').doUpdateSet((eb) => ({ synced_at: eb.ref('excluded.synced_at') }))),
  );
  const notLocal = sql.prepare(bySha, (db) => db.updateTable('s3_originals').set({ local: literal.lit(0) }).where('sha256', '=', bySha.sha256));
  const clearSynced = sql.prepare(bySha, (db) => db.updateTable('s3_originals').set({ synced_at: null }).where('sha256', '=', bySha.sha256));
  const forget = sql.prepare(bySha, (db) => db.deleteFrom('s3_originals').where('sha256', '=', bySha.sha256));
  const use = params<{ sha256: string; now: number; before: number }>();
  const touch = sql.prepare(use, (db) =>
    db.updateTable('s3_originals').set({ last_used_at: use.now }).where('sha256', '=', use.sha256).where('last_used_at', '<', use.before),
  );
  const evictable = sql.prepare(limited, (db) =>
    db
      .selectFrom('s3_originals as o')
      .selectAll('o')
      .where('o.local', '=', literal.lit(1))
      .where('o.synced_at', 'is not', null)
      .where(({ not, exists, selectFrom, eb }) =>
        not(exists(selectFrom('jobs as s').select(literal.lit(1).as('one')).where('s.lane', '=', eb(literal.lit('originals/'), '||', eb.ref('o.sha256'))))),
      )
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('images as i')
              .innerJoin('jobs as j', 'j.image_id', 'i.id')
              .select(literal.lit(1).as('one'))
              .whereRef('i.sha256', '=', 'o.sha256')
              .where('j.status', 'in', [QUEUED, RUNNING]),
          ),
        ),
      )
      .orderBy('o.last_used_at')
      .limit(limited.limit),
  );
  const evictedCount = sql.prepare(params(), (db) =>
    db
      .selectFrom('s3_originals as o')
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.sum<number | null>('o.bytes').as('bytes')])
      .where('o.local', '=', literal.lit(0))
      .where(({ exists, selectFrom }) => exists(selectFrom('images as i').select(literal.lit(1).as('one')).whereRef('i.sha256', '=', 'o.sha256'))),
  );

  const imagesWithSha = sql.prepare(bySha, (db) =>
    db
      .selectFrom('images')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('sha256', '=', bySha.sha256),
  );
  const formatOfSha = sql.prepare(bySha, (db) => db.selectFrom('images').select('format').where('sha256', '=', bySha.sha256).limit(1));

  // startFresh: everything stored now, queued for upload.
  const start = params<{ target: string; now: number; max_attempts: number }>();
  const dropSyncJobs = sql.prepare(params(), (db) => db.deleteFrom('jobs').where('queue', '=', SYNC));
  const dropOriginals = sql.prepare(params(), (db) => db.deleteFrom('s3_originals'));
  const trackOriginals = sql.prepare(start, (db) =>
    db
      .insertInto('s3_originals')
      .columns(['sha256', 'bytes', 'local', 'last_used_at'])
      .expression((eb) =>
        eb
          .selectFrom('images')
          .select((s) => ['sha256', s.fn.max('bytes').as('bytes'), literal.lit(1).as('local'), literal.val(start.now).as('last_used_at')])
          .groupBy('sha256'),
      ),
  );
  const queueOriginals = sql.prepare(start, (db, fns) =>
    db
      .insertInto('jobs')
      .columns(['kind', 'queue', 'lane', 'payload', 'status', 'max_attempts', 'run_at', 'created_at'])
      .expression((eb) =>
        eb.selectFrom('s3_originals').select((s) => {
          const key = s(literal.lit('originals/'), '||', s.ref('sha256'));
          return [
            literal.lit('sync_put_original').as('kind'),
            SYNC.as('queue'),
            key.as('lane'),
            fns.jsonObject([
              ['key', key],
              ['sha256', s.ref('sha256')],
              ['bytes', s.ref('bytes')],
            ]).as('payload'),
            QUEUED.as('status'),
            literal.val(start.max_attempts).as('max_attempts'),
            literal.val(start.now).as('run_at'),
            literal.val(start.now).as('created_at'),
          ];
        }),
      ),
  );
  // The key's file name is the local file's, `<variant>.<extension of its format>`.
  const extension = literal<string>`CASE ${literal.ref('format')} ${literal.join(
    Object.entries(EXTENSIONS).map(([format, ext]) => literal`WHEN ${literal.lit(format)} THEN ${literal.lit(ext)}`),
    literal` `,
  )} END`;
  const queueProcessed = sql.prepare(start, (db, fns) =>
    db
      .insertInto('jobs')
      .columns(['kind', 'queue', 'lane', 'payload', 'status', 'max_attempts', 'run_at', 'created_at'])
      .expression((eb) =>
        eb
          .selectFrom('variants')
          .select((s) => {
            const folder = s(literal.lit('processed/'), '||', s.ref('image_id'));
            const key = literal<string>`${folder} || '/' || ${s.ref('name')} || '.' || ${extension}`;
            return [
              literal.lit('sync_put_processed').as('kind'),
              SYNC.as('queue'),
              folder.as('lane'),
              fns.jsonObject([
                ['key', key],
                ['imageId', s.ref('image_id')],
                ['variant', s.ref('name')],
                ['bytes', s.fn.coalesce('bytes', literal.lit(0))],
              ]).as('payload'),
              QUEUED.as('status'),
              literal.val(start.max_attempts).as('max_attempts'),
              literal.val(start.now).as('run_at'),
              literal.val(start.now).as('created_at'),
            ];
          })
          .where('status', '=', literal.lit('done'))
          .where('path', 'is not', null)
          .orderBy('image_id'),
      ),
  );
  const retarget = sql.prepare(start, (db) =>
    db
      .updateTable('s3_sync_state')
      .set((eb) => ({
        target: start.target,
        outbox_cursor: eb.fn.coalesce(eb.selectFrom('outbox').select((o) => o.fn.max('id').as('id')), literal.lit(0)),
      }))
      .where('id', '=', literal.lit(1)),
  );

  const sum = (n: number | null) => Number(n ?? 0);

  return {
    state: async () => (await state.first())!,
    eventsAfter: (cursor, limit) => eventsAfter.all({ cursor, limit }),
    setCursor: async (cursor) => void (await setCursor.run({ cursor })),
    unfedEvents: async () => Number((await unfed.first())!.n),

    async enqueue(job, now) {
      const last = await lastInLane.first({ lane: job.lane });
      const kind: SyncJobKind = `sync_${job.op}`;
      if (last && last.status === 'queued' && last.kind === kind && last.key === job.key && job.op.startsWith('put_')) return false;
      const payload: SyncPayload = { key: job.key, imageId: job.imageId ?? null, sha256: job.sha256 ?? null, variant: job.variant ?? null, bytes: job.bytes ?? 0 };
      await insert.run({ kind, lane: job.lane, payload: JSON.stringify(payload), max_attempts: job.maxAttempts, now });
      return true;
    },
    retryFailed: (now) => retryFailed.run({ now }),

    async setUpload(id, uploadId, partSize) {
      await setUpload.run({ id, upload_id: uploadId, part_size: partSize });
      await clearParts.run({ id });
    },
    uploadOf: async (id) => (await uploadOf.first({ id }))?.upload_id ?? null,
    parts: (jobId, uploadId) => parts.all({ job_id: jobId, upload_id: uploadId }),
    addPart: async (p) =>
      void (await addPart.run({ job_id: p.jobId, upload_id: p.uploadId, part_number: p.partNumber, etag: p.etag, crc32: p.crc32, bytes: p.bytes })),

    async backlog() {
      const row = (await backlog.first())!;
      return { jobs: Number(row.jobs), bytes: sum(row.bytes), oldest: row.oldest ?? null };
    },
    failedCount: async () => Number((await failedCount.first())!.n),
    failedRecent: (limit) => failedRecent.all({ limit }),

    addSynced: async (bytes) => void (await addSynced.run({ n: bytes })),
    addDeleted: async (n) => void (await addDeleted.run({ n })),

    original: (sha256) => original.first({ sha256 }),
    originalIsLocal: async (sha256, bytes, now) => void (await upsertLocal.run({ sha256, bytes, now })),
    originalSynced: async (sha256, bytes, isLocal, now) => void (await markSynced.run({ sha256, bytes, local: isLocal ? 1 : 0, now })),
    originalGoneLocally: async (sha256) => void (await notLocal.run({ sha256 })),
    async originalDeletedRemotely(sha256) {
      if (Number((await imagesWithSha.first({ sha256 }))!.n) === 0) await forget.run({ sha256 });
      else await clearSynced.run({ sha256 });
    },
    async originalEvicted(sha256, bytes) {
      await notLocal.run({ sha256 });
      await addEvicted.run({ n: bytes });
    },
    touchOriginal: async (sha256, now) => void (await touch.run({ sha256, now, before: now - 60_000 })),
    evictable: (limit) => evictable.all({ limit }),
    async evicted() {
      const row = (await evictedCount.first())!;
      return { originals: Number(row.n), bytes: sum(row.bytes) };
    },

    imagesUsing: async (sha256) => Number((await imagesWithSha.first({ sha256 }))!.n),
    formatOf: async (sha256) => (await formatOfSha.first({ sha256 }))?.format,

    async startFresh(target, now, maxAttempts) {
      const args = { target, now, max_attempts: maxAttempts };
      await dropSyncJobs.run();
      await dropOriginals.run();
      await trackOriginals.run(args);
      await queueOriginals.run(args);
      await queueProcessed.run(args);
      await retarget.run(args);
    },
  };
}
