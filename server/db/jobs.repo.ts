import { sql as literal, type ExpressionBuilder, type Kysely, type Selectable } from 'kysely';
import { EVENT_JOBS, QUEUE_OF, type EventType, type ImageJobKind, type JobKind, type JobQueue, type JobStatus } from '../jobs/kinds.js';
import type { Database, JobsTable, OutboxTable } from './schema.js';
import { params, type SqlExecutor, type SqlFunctions } from './sql-executor.js';

export type { JobStatus } from '../jobs/kinds.js';

/**
 * A job: `queue` says which slots it takes (jobs/kinds.ts); an image job has its image,
 * customer (claimed round-robin across customers), generation and the event that started it;
 * a job of a lane runs after the earlier jobs of its lane (migration 008); `interruptions`
 * counts how often the server stopped while it ran (migration 006).
 */
export type JobRow = Selectable<JobsTable>;

/** A job of the `image` queue: it belongs to an image, its customer and generation. */
export interface ImageJobRow extends JobRow {
  kind: ImageJobKind;
  image_id: string;
  customer: string;
  generation: number;
  event_id: number;
}

/** A job that does not belong to an image: its queue, lane and payload say what it is about. */
export interface NewJob {
  kind: Exclude<JobKind, ImageJobKind>;
  lane?: string | null;
  payload?: object;
  maxAttempts: number;
}

export type OutboxRow = Selectable<OutboxTable>;

/** A claim's arguments: the time, when its lease runs out, its token, and the node taking it. */
interface Lease {
  now: number;
  leaseUntil: number;
  token: string;
  node: string | null;
}

/** The jobs of the one job engine, and the outbox of events that start them. */
export interface JobsRepo {
  /** Writes an event to the outbox; resolves to its id. */
  appendEvent(type: EventType, imageId: string | null, payload: object, at: number): Promise<number>;
  pendingEvents(limit: number): Promise<OutboxRow[]>;
  markDispatched(id: number, at: number): Promise<void>;
  /** Queues a job for the image's current generation, or for `generation` only if it is still current. */
  insertJob(kind: ImageJobKind, imageId: string, eventId: number, maxAttempts: number, at: number, generation?: number | null): Promise<void>;
  /**
   * Queues a job that does not belong to an image. With a lane, a job identical to the one
   * already waiting last in that lane is not queued twice (a file reported again, a hundred
   * uploads of the same bytes): resolves to false then.
   */
  enqueue(job: NewJob, at: number): Promise<boolean>;
  /**
   * Takes the next due image job, round-robin across customers, or undefined; `token` names this
   * run of it, `node` (--node-id) the node that runs it.
   */
  claim(now: number, leaseUntil: number, token: string, node?: string): Promise<ImageJobRow | undefined>;
  /** Takes the next due job of another queue, oldest first (`lanes`: respecting the order of its lane). */
  claimInQueue(queue: Exclude<JobQueue, 'image'>, lanes: boolean, now: number, leaseUntil: number, token: string, node?: string): Promise<JobRow | undefined>;
  /**
   * Extends to `leaseUntil` the lease of every job `node` holds, in one statement whatever their
   * number: the renewal a running node makes every few seconds. Resolves to the jobs renewed
   * (a handful: one per slot), so the node can tell the ones it runs from ones it lost track of.
   */
  renewLeases(node: string, leaseUntil: number): Promise<JobRow[]>;
  isOwned(id: number, token: string): Promise<boolean>;
  /** Ends a job this runner holds; a done job of no image leaves the table. False: not held under `token`. */
  finish(job: Pick<JobRow, 'id' | 'image_id'>, token: string, status: 'done' | 'failed', at: number, error?: string | null): Promise<boolean>;
  /** Back in the queue at `runAt`; `countAttempt: false` when the attempt was no fault of the job's (a service outage, "not yet"). */
  retry(id: number, token: string, runAt: number, error: string, countAttempt?: boolean): Promise<boolean>;
  /**
   * Jobs left `running`: by any node, or by `node` only. At start-up, the jobs the previous
   * process died running: all of them where the database has one node at a time (SQLite's
   * data-dir lock), those of its own node id where nodes share it.
   */
  running(node?: string): Promise<JobRow[]>;
  /** Queues a job the previous process died running, counting the interruption; due at `runAt`. */
  requeueInterrupted(job: Pick<JobRow, 'id' | 'lease_token'>, runAt: number, error: string): Promise<boolean>;
  /**
   * Jobs whose lease ran out without being finished or given back, except those still running
   * here (`runningHere`: the runner's own): their node died or stopped renewing (`lease_node`
   * says which), or could not write the outcome (the database was busy, say).
   */
  expiredLeases(now: number, runningHere: Iterable<number>): Promise<JobRow[]>;
  /**
   * Fails a job found running without a runner, under the lease token it was found with;
   * `interrupted`: the server stopped during it (counted like requeueInterrupted).
   */
  failFound(job: Pick<JobRow, 'id' | 'lease_token'>, at: number, error: string, interrupted: boolean): Promise<boolean>;
  /** Puts a job stopped by a clean shutdown back in the queue, its attempt not counted. */
  giveBack(id: number, token: string): Promise<boolean>;
  jobsOfCurrentGeneration(imageId: string): Promise<Array<{ kind: ImageJobKind; status: JobStatus; last_error: string | null }>>;
  /** Cancels the image's unfinished `kind` jobs older than `generation`; the ids of those cancelled. */
  cancelOlder(imageId: string, kind: ImageJobKind, generation: number, at: number): Promise<number[]>;
  /** Ids of the image's jobs still queued or running. */
  unfinishedOf(imageId: string): Promise<number[]>;
  /**
   * Image jobs waiting: those queued (kept by triggers: one row per customer, never a scan of the
   * jobs) and those the outbox's undispatched events will make.
   */
  countQueued(): Promise<number>;
  /** Image jobs running. */
  countRunning(): Promise<number>;
  /** When the next queued job of `queue` is due (due or not: a backoff). */
  nextRunAt(queue?: JobQueue): Promise<number | null>;
}

type Db = Kysely<Database>;
type JobsExpressions = ExpressionBuilder<Database, 'jobs'>;

/** The statuses of a job not finished yet, as literals so SQLite can match partial indexes. */
const unfinished = () => [literal.lit<JobStatus>('queued'), literal.lit<JobStatus>('running')];

export function createJobsRepo(sql: SqlExecutor): JobsRepo {
  const event = params<{ type: EventType; image_id: string | null; payload: string; created_at: number }>();
  const appendEvent = sql.prepare(event, (db) =>
    db
      .insertInto('outbox')
      .values({ type: event.type, image_id: event.image_id, payload: event.payload, created_at: event.created_at })
      .returning('id'),
  );
  const limited = params<{ limit: number }>();
  const pendingEvents = sql.prepare(limited, (db) =>
    db.selectFrom('outbox').selectAll().where('dispatched_at', 'is', null).orderBy('id').limit(limited.limit),
  );
  const dispatched = params<{ id: number; at: number }>();
  const markDispatched = sql.prepare(dispatched, (db) =>
    db.updateTable('outbox').set({ dispatched_at: dispatched.at }).where('id', '=', dispatched.id),
  );

  // INSERT … SELECT: an event for an image deleted meanwhile starts nothing, and neither does
  // one for a generation a later reprocess has superseded (null: any generation). DO NOTHING on
  // the (event, kind) key makes dispatching the same event twice (crash between insert and mark)
  // harmless. A parameter selected as a value is cast to its column's type: PostgreSQL would
  // otherwise take it for text, and not write text into a number column.
  const imageJob = params<{ kind: ImageJobKind; event_id: number; max_attempts: number; at: number; image_id: string; generation: number | null }>();
  const insertJob = sql.prepare(imageJob, (db) =>
    db
      .insertInto('jobs')
      .columns(['kind', 'queue', 'image_id', 'customer', 'generation', 'event_id', 'status', 'max_attempts', 'run_at', 'created_at'])
      .expression((eb) =>
        eb
          .selectFrom('images')
          .select((i) => [
            i.cast(i.val(imageJob.kind), 'text').as('kind'),
            literal.lit('image').as('queue'),
            'id',
            'customer',
            'generation',
            i.cast(i.val(imageJob.event_id), 'bigint').as('event_id'),
            literal.lit('queued').as('status'),
            i.cast(i.val(imageJob.max_attempts), 'integer').as('max_attempts'),
            i.cast(i.val(imageJob.at), 'bigint').as('run_at'),
            i.cast(i.val(imageJob.at), 'bigint').as('created_at'),
          ])
          .where('id', '=', imageJob.image_id)
          .where((i) => i('generation', '=', i.fn.coalesce(i.val(imageJob.generation), i.ref('generation')))),
      )
      .onConflict((oc) => oc.doNothing()),
  );

  // A job of no image. With a lane, one statement both checks the lane's last job and inserts,
  // so two callers cannot both see "not queued yet" and queue the same job twice.
  const other = params<{ kind: JobKind; queue: JobQueue; lane: string | null; payload: string; max_attempts: number; at: number }>();
  const newJobValues = (eb: ExpressionBuilder<Database, never>) => [
    eb.cast(eb.val(other.kind), 'text').as('kind'),
    eb.cast(eb.val(other.queue), 'text').as('queue'),
    eb.cast(eb.val(other.lane), 'text').as('lane'),
    eb.cast(eb.val(other.payload), 'text').as('payload'),
    literal.lit('queued').as('status'),
    eb.cast(eb.val(other.max_attempts), 'integer').as('max_attempts'),
    eb.cast(eb.val(other.at), 'bigint').as('run_at'),
    eb.cast(eb.val(other.at), 'bigint').as('created_at'),
  ];
  const newJobColumns = ['kind', 'queue', 'lane', 'payload', 'status', 'max_attempts', 'run_at', 'created_at'] as const;
  const insertOther = sql.prepare(other, (db) =>
    db.insertInto('jobs').columns(newJobColumns).expression(db.selectNoFrom(newJobValues)),
  );
  const insertInLane = sql.prepare(other, (db) =>
    db
      .insertInto('jobs')
      .columns(newJobColumns)
      .expression(
        db.selectNoFrom(newJobValues).where(({ not, exists, selectFrom }) =>
          not(
            exists(
              selectFrom(
                db.selectFrom('jobs').select(['kind', 'payload', 'status']).where('lane', '=', other.lane).orderBy('id', 'desc').limit(literal.lit(1)).as('last'),
              )
                .select(literal.lit(1).as('one'))
                .where('last.status', '=', literal.lit('queued'))
                .where('last.kind', '=', other.kind)
                .where('last.payload', '=', other.payload),
            ),
          ),
        ),
      ),
  );

  // Every claim is one UPDATE of the row a subquery picks (`pick`), so a claim is one statement
  // on every dialect. On PostgreSQL the pick locks the row it takes and skips rows other
  // claimers hold (`fns.skipLocked`: FOR UPDATE SKIP LOCKED), so nodes claiming at once each
  // get a different job instead of all waiting for the first one's lock and then claiming
  // nothing. The constants are literals: SQLite uses a partial index (`… WHERE status =
  // 'queued'`, `… WHERE waiting > 0`) only when the query says so literally.
  const lease = params<Lease & { queue: JobQueue }>();
  const claimWith = (db: Db, pick: (eb: JobsExpressions) => unknown) =>
    db
      .updateTable('jobs')
      .set((eb) => ({
        status: literal.lit('running'),
        attempts: eb('attempts', '+', literal.lit(1)),
        lease_until: lease.leaseUntil,
        lease_token: lease.token,
        lease_node: lease.node,
      }))
      // The pick's row type depends on its tables, which Kysely cannot follow through `pick`;
      // every pick selects one job id.
      .where((eb) => eb('id', '=', pick(eb) as never))
      // Checked again on the row itself: on PostgreSQL two nodes' claims can pick the same job
      // (the pick reads the state before either claim), and the second, after waiting for the
      // first's row lock, re-checks only this WHERE on the row as the first left it; without it,
      // it would take the running job a second time. Then it claims nothing this round.
      .where('status', '=', literal.lit('queued'))
      .returningAll();

  // The other queues: oldest due job first. In a queue with lanes, a job waits while an earlier
  // job of its lane is queued or running, so work on one object (one file) keeps its order.
  const pickInQueue = (lanes: boolean, fns: SqlFunctions) => (eb: JobsExpressions) => {
    let due = eb
      .selectFrom('jobs as j')
      .select('j.id')
      .where('j.queue', '=', lease.queue)
      .where('j.status', '=', literal.lit('queued'))
      .where('j.run_at', '<=', lease.now);
    if (lanes) {
      due = due.where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('jobs as e')
              .select(literal.lit(1).as('one'))
              .whereRef('e.lane', '=', 'j.lane')
              .whereRef('e.id', '<>', 'j.id')
              .where((e) =>
                e.or([e('e.status', '=', literal.lit('running')), e.and([e('e.status', '=', literal.lit('queued')), e('e.id', '<', e.ref('j.id'))])]),
              ),
          ),
        ),
      );
    }
    return fns.skipLocked(due.orderBy('j.run_at').orderBy('j.id').limit(literal.lit(1)));
  };
  const claimInQueue = sql.prepare(lease, (db, fns) => claimWith(db, pickInQueue(false, fns)));
  const claimInLanes = sql.prepare(lease, (db, fns) => claimWith(db, pickInQueue(true, fns)));

  // Round-robin across customers: the least recently served customer with a job that is due
  // gets its oldest due job. Customers are walked in `job_queues_next` order and each costs one
  // probe of `jobs_queued_by_customer`, however many jobs wait (migration 005 explains the
  // bookkeeping; test/unit/fair-queue.test.ts pins the query plan). Kysely writes the statement
  // of before clause for clause, so SQLite keeps the plan.
  const imageLease = params<Lease>();
  // On PostgreSQL a customer whose oldest due job another node is claiming this instant is
  // passed over for the next customer (SKIP LOCKED of `j` only: job_queues is just read here).
  const claim = sql.prepare(imageLease, (db, fns) =>
    claimWith(db, (eb) =>
      fns.skipLocked(
      eb
        .selectFrom('job_queues as q')
        .innerJoin('jobs as j', (join) =>
          join.on((on) =>
            on(
              'j.id',
              '=',
              on
                .selectFrom('jobs as due')
                .select('due.id')
                .where('due.status', '=', literal.lit('queued'))
                .whereRef('due.customer', '=', 'q.customer')
                .where('due.run_at', '<=', imageLease.now)
                .orderBy('due.run_at')
                .orderBy('due.id')
                .limit(literal.lit(1)),
            ),
          ),
        )
        .select('j.id')
        .where('q.waiting', '>', literal.lit(0))
        .orderBy('q.served_seq')
        .orderBy('q.customer')
        .limit(literal.lit(1)),
        'j',
      ),
    ),
  );

  const held = params<{ id: number; token: string }>();
  const owned = sql.prepare(held, (db) =>
    db.selectFrom('jobs').select('id').where('id', '=', held.id).where('status', '=', literal.lit('running')).where('lease_token', '=', held.token),
  );
  const ending = params<{ id: number; token: string; status: 'done' | 'failed'; at: number; error: string | null }>();
  const finish = sql.prepare(ending, (db) =>
    db
      .updateTable('jobs')
      .set({ status: ending.status, finished_at: ending.at, last_error: ending.error, lease_until: null, lease_token: null })
      .where('id', '=', ending.id)
      .where('status', '=', literal.lit('running'))
      .where('lease_token', '=', ending.token),
  );
  // A job that does not belong to an image leaves the table when done: nothing would ever
  // remove it (an image's jobs go with their image), and its effects are recorded elsewhere.
  const removeDone = sql.prepare(held, (db) =>
    db
      .deleteFrom('jobs')
      .where('id', '=', held.id)
      .where('status', '=', literal.lit('running'))
      .where('lease_token', '=', held.token)
      .where('image_id', 'is', null),
  );
  const again = params<{ id: number; token: string; run_at: number; error: string; uncounted: number }>();
  const retry = sql.prepare(again, (db) =>
    db
      .updateTable('jobs')
      .set((eb) => ({
        status: literal.lit('queued'),
        run_at: again.run_at,
        last_error: again.error,
        attempts: eb('attempts', '-', again.uncounted),
        lease_until: null,
        lease_token: null,
      }))
      .where('id', '=', again.id)
      .where('status', '=', literal.lit('running'))
      .where('lease_token', '=', again.token),
  );
  // Found running at start (or with its lease run out): the token it was found with may be
  // NULL, so it is compared with IS NOT DISTINCT FROM (what SQLite's `IS` was; PostgreSQL
  // rejects `IS $1`).
  const interrupted = params<{ id: number; token: string | null; run_at: number; error: string }>();
  // Back to the queue with its attempt counted: the process running it died (found at start).
  const requeueInterrupted = sql.prepare(interrupted, (db) =>
    db
      .updateTable('jobs')
      .set((eb) => ({
        status: literal.lit('queued'),
        run_at: interrupted.run_at,
        last_error: interrupted.error,
        interruptions: eb('interruptions', '+', literal.lit(1)),
        lease_until: null,
        lease_token: null,
      }))
      .where('id', '=', interrupted.id)
      .where('status', '=', literal.lit('running'))
      .where('lease_token', 'is not distinct from', interrupted.token),
  );
  const found = params<{ id: number; token: string | null; at: number; error: string; interrupted: number }>();
  const failFound = sql.prepare(found, (db) =>
    db
      .updateTable('jobs')
      .set((eb) => ({
        status: literal.lit('failed'),
        finished_at: found.at,
        last_error: found.error,
        interruptions: eb('interruptions', '+', found.interrupted),
        lease_until: null,
        lease_token: null,
      }))
      .where('id', '=', found.id)
      .where('status', '=', literal.lit('running'))
      .where('lease_token', 'is not distinct from', found.token),
  );
  // Back to the queue as if never claimed: stopped by a clean shutdown, through no fault of its own.
  const giveBack = sql.prepare(held, (db, fns) =>
    db
      .updateTable('jobs')
      .set((eb) => ({
        status: literal.lit('queued'),
        attempts: fns.greatest(literal.lit(0), eb('attempts', '-', literal.lit(1))),
        lease_until: null,
        lease_token: null,
      }))
      .where('id', '=', held.id)
      .where('status', '=', literal.lit('running'))
      .where('lease_token', '=', held.token),
  );
  const running = sql.prepare(params(), (db) => db.selectFrom('jobs').selectAll().where('status', '=', literal.lit('running')).orderBy('id'));
  const ofNode = params<{ node: string }>();
  const runningOf = sql.prepare(ofNode, (db) =>
    db.selectFrom('jobs').selectAll().where('status', '=', literal.lit('running')).where('lease_node', '=', ofNode.node).orderBy('id'),
  );
  // The running jobs are few (one per slot of each node), found through jobs_by_status.
  const renewal = params<{ node: string; until: number }>();
  const renewLeases = sql.prepare(renewal, (db) =>
    db
      .updateTable('jobs')
      .set({ lease_until: renewal.until })
      .where('status', '=', literal.lit('running'))
      .where('lease_node', '=', renewal.node)
      .returningAll(),
  );
  // The runner's own jobs are left out in JavaScript rather than in SQL: they are a handful (one
  // per slot), as are the running jobs whose lease ran out, and a list bound as one parameter
  // would need each dialect's JSON table function (SQLite json_each, PostgreSQL unnest).
  const at = params<{ now: number }>();
  const expired = sql.prepare(at, (db) =>
    db.selectFrom('jobs').selectAll().where('status', '=', literal.lit('running')).where('lease_until', '<', at.now).orderBy('id'),
  );
  const ofImage = params<{ image_id: string }>();
  const generationJobs = sql.prepare(ofImage, (db) =>
    db
      .selectFrom('jobs as j')
      .innerJoin('images as i', 'i.id', 'j.image_id')
      .select(['j.kind', 'j.status', 'j.last_error'])
      .where('j.image_id', '=', ofImage.image_id)
      .whereRef('j.generation', '=', 'i.generation'),
  );
  // Superseded processing of an image: queued jobs never run, a running one loses its lease
  // (its results can no longer commit) and is stopped by the runner.
  const older = params<{ at: number; image_id: string; kind: ImageJobKind; generation: number }>();
  const cancelKind = sql.prepare(older, (db) =>
    db
      .updateTable('jobs')
      .set({ status: literal.lit('cancelled'), finished_at: older.at, lease_until: null, lease_token: null })
      .where('image_id', '=', older.image_id)
      .where('kind', '=', older.kind)
      .where('status', 'in', unfinished())
      .where('generation', '<', older.generation)
      .returning('id'),
  );
  const unfinishedOf = sql.prepare(ofImage, (db) =>
    db.selectFrom('jobs').select('id').where('image_id', '=', ofImage.image_id).where('status', 'in', unfinished()),
  );
  // The events committed but not dispatched yet count with the jobs they will make: between an
  // upload's commit and its dispatch (on PostgreSQL, a few statements later) the queue would
  // otherwise look shorter than it is, and admission let more in than --max-queued-jobs.
  const jobsOfEvent = literal<number>`CASE ${literal.join(
    Object.entries(EVENT_JOBS)
      .filter(([, kinds]) => kinds.length > 0)
      .map(([type, kinds]) => literal`WHEN type = ${literal.lit(type)} THEN ${literal.lit(kinds.length)}`),
    literal` `,
  )} ELSE 0 END`;
  // One statement (admission asks it for every upload): the queued jobs from job_queues, kept by
  // triggers (migration 005: one row per customer, never a scan of the jobs), and the pending
  // events through the outbox's partial index, which dispatch keeps short.
  const countQueued = sql.prepare(params(), (db) =>
    db
      .selectFrom('job_queues')
      .select((eb) => [
        eb.fn.coalesce(eb.fn.sum<number>('waiting'), literal.lit(0)).as('queued'),
        eb
          .selectFrom('outbox')
          .select((o) => o.fn.coalesce(o.fn.sum<number>(jobsOfEvent), literal.lit(0)).as('n'))
          .where('dispatched_at', 'is', null)
          .as('pending'),
      ])
      .where('waiting', '>', literal.lit(0)),
  );
  const countRunning = sql.prepare(params(), (db) =>
    db
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('status', '=', literal.lit('running'))
      .where('queue', '=', literal.lit('image')),
  );
  const ofQueue = params<{ queue: JobQueue }>();
  const nextRunAt = sql.prepare(ofQueue, (db) =>
    db
      .selectFrom('jobs')
      .select((eb) => eb.fn.min<number | null>('run_at').as('run_at'))
      .where('status', '=', literal.lit('queued'))
      .where('queue', '=', ofQueue.queue),
  );

  return {
    appendEvent: async (type, imageId, payload, created_at) =>
      Number((await appendEvent.first({ type, image_id: imageId, payload: JSON.stringify(payload), created_at }))!.id),
    pendingEvents: (limit) => pendingEvents.all({ limit }),
    markDispatched: async (id, at) => void (await markDispatched.run({ id, at })),
    insertJob: async (kind, imageId, eventId, maxAttempts, at, generation = null) =>
      void (await insertJob.run({ kind, event_id: eventId, max_attempts: maxAttempts, at, image_id: imageId, generation })),
    async enqueue(job, at) {
      const args = {
        kind: job.kind,
        queue: QUEUE_OF[job.kind],
        lane: job.lane ?? null,
        payload: JSON.stringify(job.payload ?? {}),
        max_attempts: job.maxAttempts,
        at,
      };
      return (await (job.lane ? insertInLane : insertOther).run(args)) > 0;
    },
    claim: (now, leaseUntil, token, node) => claim.first({ now, leaseUntil, token, node: node ?? null }) as Promise<ImageJobRow | undefined>,
    claimInQueue: (queue, lanes, now, leaseUntil, token, node) =>
      (lanes ? claimInLanes : claimInQueue).first({ queue, now, leaseUntil, token, node: node ?? null }),
    renewLeases: (node, until) => renewLeases.all({ node, until }),
    isOwned: async (id, token) => (await owned.first({ id, token })) !== undefined,
    finish: async (job, token, status, at, error = null) =>
      (status === 'done' && job.image_id === null
        ? await removeDone.run({ id: job.id, token })
        : await finish.run({ id: job.id, token, status, at, error })) > 0,
    retry: async (id, token, runAt, error, countAttempt = true) =>
      (await retry.run({ id, token, run_at: runAt, error, uncounted: countAttempt ? 0 : 1 })) > 0,
    running: (node) => (node === undefined ? running.all() : runningOf.all({ node })),
    requeueInterrupted: async (job, runAt, error) =>
      (await requeueInterrupted.run({ id: job.id, token: job.lease_token, run_at: runAt, error })) > 0,
    async expiredLeases(now, runningHere) {
      const here = new Set(runningHere);
      return (await expired.all({ now })).filter((job) => !here.has(job.id));
    },
    failFound: async (job, at, error, interrupted) =>
      (await failFound.run({ id: job.id, token: job.lease_token, at, error, interrupted: interrupted ? 1 : 0 })) > 0,
    giveBack: async (id, token) => (await giveBack.run({ id, token })) > 0,
    jobsOfCurrentGeneration: (imageId) => generationJobs.all({ image_id: imageId }) as ReturnType<JobsRepo['jobsOfCurrentGeneration']>,
    cancelOlder: async (imageId, kind, generation, at) => (await cancelKind.all({ at, image_id: imageId, kind, generation })).map((r) => r.id),
    unfinishedOf: async (imageId) => (await unfinishedOf.all({ image_id: imageId })).map((r) => r.id),
    countQueued: async () => {
      const { queued, pending } = (await countQueued.first())!;
      return Number(queued) + Number(pending ?? 0);
    },
    countRunning: async () => Number((await countRunning.first())!.n),
    nextRunAt: async (queue = 'image') => (await nextRunAt.first({ queue }))?.run_at ?? null,
  };
}
