import { sql as literal, type ExpressionBuilder, type Kysely, type Selectable } from 'kysely';
import type { JobRow } from './jobs.repo.js';
import type { Database, WebhookDeliveriesTable, WebhookEndpointsTable, WebhookMessagesTable } from './schema.js';
import { params, type SqlExecutor } from './sql-executor.js';

export type WebhookEndpointRow = Selectable<WebhookEndpointsTable>;
export type WebhookMessageRow = Selectable<WebhookMessagesTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveriesTable>;

/** A delivery with what sending it needs: its message's body and its endpoint. */
export interface DeliveryToSend {
  delivery: WebhookDeliveryRow;
  message: WebhookMessageRow;
  endpoint: WebhookEndpointRow;
}

/** How one attempt ended, as the delivery's row keeps it. */
export interface AttemptRecord {
  attempts: number;
  last_status: number | null;
  last_error: string | null;
  next_attempt_at: number | null;
}

/** Endpoints, messages and deliveries of webhooks (CONTRACT §11, migration 010). */
export interface WebhooksRepo {
  createEndpoint(row: WebhookEndpointRow): Promise<void>;
  findEndpoint(id: string): Promise<WebhookEndpointRow | undefined>;
  /** A customer's endpoints, oldest first. */
  endpointsOf(customer: string): Promise<WebhookEndpointRow[]>;
  /** A customer's enabled endpoints (which events each takes is read from `events`). */
  enabledEndpointsOf(customer: string): Promise<WebhookEndpointRow[]>;
  /** Writes every column of an endpoint read before (in the same unit of work) and changed. */
  saveEndpoint(row: WebhookEndpointRow): Promise<boolean>;
  /** Removes the endpoint, its deliveries (cascade) and its delivery jobs not running yet. */
  deleteEndpoint(id: string): Promise<boolean>;
  insertMessage(row: WebhookMessageRow): Promise<void>;
  insertDelivery(row: Omit<WebhookDeliveryRow, 'attempts'>): Promise<void>;
  findDelivery(id: string): Promise<WebhookDeliveryRow | undefined>;
  toSend(deliveryId: string): Promise<DeliveryToSend | undefined>;
  /** An endpoint's deliveries, newest first; `before`: the last of the previous page. */
  deliveriesOf(endpointId: string, limit: number, before?: { createdAt: number; id: string }): Promise<Array<WebhookDeliveryRow & { event: string }>>;
  /**
   * Records a failed attempt of a delivery that is still pending; false when it is not (it was
   * ended meanwhile, by its endpoint being disabled or removed), so the attempt is not retried.
   */
  recordAttempt(id: string, attempt: AttemptRecord): Promise<boolean>;
  markDelivered(id: string, at: number, attempt: AttemptRecord): Promise<void>;
  markFailed(id: string, error: string | null): Promise<void>;
  /**
   * Ends every pending delivery of an endpoint as failed with `error`, and removes their queued
   * jobs: an endpoint that was disabled shows at once what will not be sent, instead of keeping
   * deliveries "pending" until each one's next attempt (up to the schedule's last step away).
   * A delivery in flight finishes its attempt (recordAttempt then returns false). Resolves to
   * the deliveries ended.
   */
  failPending(endpointId: string, error: string): Promise<number>;
  /** A delivery that ended (delivered or failed) pending again, for a manual retry; false when it is pending already. */
  reopen(id: string, at: number): Promise<boolean>;
  /** Makes a pending delivery's queued job due now (a manual retry of one waiting for its next attempt). */
  hurry(endpointId: string, deliveryId: string, at: number): Promise<void>;
  /**
   * Removes a delivery job that ended for good: its delivery's row is the record (a retry queues
   * a new job), so the failed row would only pile up (done jobs of no image leave by themselves).
   */
  removeJob(id: number): Promise<void>;
  /**
   * Forgets history: deliveries that ended (delivered or failed) created before `before`, then the
   * messages left without any delivery. Resolves to the deliveries removed.
   */
  prune(before: number): Promise<number>;
  /** How many of an endpoint's deliveries of one event are pending (the cap on test messages). */
  countPending(endpointId: string, event: string): Promise<number>;
  /** Pending deliveries per endpoint (the metrics). */
  backlog(): Promise<Array<{ endpoint_id: string; n: number }>>;
  /** Pending deliveries per endpoint of one customer (the endpoint list: it reads no other customer's backlog). */
  backlogOf(customer: string): Promise<Array<{ endpoint_id: string; n: number }>>;
  /**
   * Takes the next due delivery job: fair across customers (the customer with the fewest
   * deliveries running goes first), at most `limits.perEndpoint` running at once per endpoint and
   * `limits.perCustomer` per customer, oldest due first. One statement, like every claim of the
   * job engine.
   */
  claim(now: number, leaseUntil: number, token: string, node: string | undefined, limits: { perEndpoint: number; perCustomer: number }): Promise<JobRow | undefined>;
}

export const deliveryJobPayload = (deliveryId: string) => JSON.stringify({ deliveryId });

export function createWebhooksRepo(sql: SqlExecutor): WebhooksRepo {
  const endpoint = params<WebhookEndpointRow>();
  // Every column but the id, the customer and the creation time: what saveEndpoint may change.
  const changeable = {
    url: endpoint.url,
    description: endpoint.description,
    events: endpoint.events,
    enabled: endpoint.enabled,
    disabled_reason: endpoint.disabled_reason,
    secret: endpoint.secret,
    previous_secret: endpoint.previous_secret,
    previous_secret_until: endpoint.previous_secret_until,
    updated_at: endpoint.updated_at,
  };
  const createEndpoint = sql.prepare(endpoint, (db) =>
    db.insertInto('webhook_endpoints').values({ id: endpoint.id, customer: endpoint.customer, created_at: endpoint.created_at, ...changeable }),
  );
  const byId = params<{ id: string }>();
  const findEndpoint = sql.prepare(byId, (db) => db.selectFrom('webhook_endpoints').selectAll().where('id', '=', byId.id));
  const ofCustomer = params<{ customer: string }>();
  const endpointsOf = sql.prepare(ofCustomer, (db) =>
    db.selectFrom('webhook_endpoints').selectAll().where('customer', '=', ofCustomer.customer).orderBy('created_at').orderBy('id'),
  );
  const enabledOf = sql.prepare(ofCustomer, (db) =>
    db.selectFrom('webhook_endpoints').selectAll().where('customer', '=', ofCustomer.customer).where('enabled', '=', literal.lit(1)).orderBy('id'),
  );
  const updateEndpoint = sql.prepare(endpoint, (db) =>
    db
      .updateTable('webhook_endpoints')
      .set(changeable)
      .where('id', '=', endpoint.id),
  );
  const deleteJobsOf = sql.prepare(byId, (db) =>
    db.deleteFrom('jobs').where('queue', '=', literal.lit('webhook')).where('lane', '=', byId.id).where('status', '=', literal.lit('queued')),
  );
  const deleteEndpoint = sql.prepare(byId, (db) => db.deleteFrom('webhook_endpoints').where('id', '=', byId.id));

  const message = params<WebhookMessageRow>();
  const insertMessage = sql.prepare(message, (db) =>
    db.insertInto('webhook_messages').values({ id: message.id, customer: message.customer, event: message.event, payload: message.payload, created_at: message.created_at }),
  );
  const delivery = params<Omit<WebhookDeliveryRow, 'attempts'>>();
  const insertDelivery = sql.prepare(delivery, (db) =>
    db.insertInto('webhook_deliveries').values({
      id: delivery.id,
      message_id: delivery.message_id,
      endpoint_id: delivery.endpoint_id,
      status: delivery.status,
      last_status: delivery.last_status,
      last_error: delivery.last_error,
      next_attempt_at: delivery.next_attempt_at,
      delivered_at: delivery.delivered_at,
      created_at: delivery.created_at,
    }),
  );
  const findDelivery = sql.prepare(byId, (db) => db.selectFrom('webhook_deliveries').selectAll().where('id', '=', byId.id));
  const messageOf = sql.prepare(byId, (db) => db.selectFrom('webhook_messages').selectAll().where('id', '=', byId.id));

  // Two statements, the first page and the next ones, rather than one with "no cursor" as a
  // NULL parameter: `$1 IS NULL` has no type PostgreSQL could infer, and each keeps its index use.
  const page = params<{ endpoint_id: string; limit: number }>();
  const pageFrom = (db: Kysely<Database>) =>
    db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhook_messages as m', 'm.id', 'd.message_id')
      .selectAll('d')
      .select('m.event')
      .where('d.endpoint_id', '=', page.endpoint_id)
      .orderBy('d.created_at', 'desc')
      .orderBy('d.id', 'desc')
      .limit(page.limit);
  const firstPage = sql.prepare(page, pageFrom);
  const after = params<{ endpoint_id: string; limit: number; before_at: number; before_id: string }>();
  const nextPage = sql.prepare(after, (db) =>
    pageFrom(db).where((eb) => eb.or([eb('d.created_at', '<', after.before_at), eb.and([eb('d.created_at', '=', after.before_at), eb('d.id', '<', after.before_id)])])),
  );

  const attempt = params<{ id: string } & AttemptRecord>();
  const recordAttempt = sql.prepare(attempt, (db) =>
    db
      .updateTable('webhook_deliveries')
      .set({ attempts: attempt.attempts, last_status: attempt.last_status, last_error: attempt.last_error, next_attempt_at: attempt.next_attempt_at })
      .where('id', '=', attempt.id)
      .where('status', '=', literal.lit('pending')),
  );
  const endingPending = params<{ endpoint_id: string; error: string }>();
  const failPendingOf = sql.prepare(endingPending, (db) =>
    db
      .updateTable('webhook_deliveries')
      .set({ status: literal.lit('failed'), next_attempt_at: literal.lit(null), last_error: endingPending.error })
      .where('endpoint_id', '=', endingPending.endpoint_id)
      .where('status', '=', literal.lit('pending')),
  );
  const delivered = params<{ id: string; at: number } & AttemptRecord>();
  const markDelivered = sql.prepare(delivered, (db) =>
    db
      .updateTable('webhook_deliveries')
      .set({
        status: literal.lit('delivered'),
        delivered_at: delivered.at,
        attempts: delivered.attempts,
        last_status: delivered.last_status,
        last_error: literal.lit(null),
        next_attempt_at: literal.lit(null),
      })
      .where('id', '=', delivered.id),
  );
  const failure = params<{ id: string; error: string | null }>();
  const markFailed = sql.prepare(failure, (db) =>
    db
      .updateTable('webhook_deliveries')
      .set((eb) => ({ status: literal.lit('failed'), next_attempt_at: literal.lit(null), last_error: eb.fn.coalesce(eb.val(failure.error), eb.ref('last_error')) }))
      .where('id', '=', failure.id),
  );
  const reopening = params<{ id: string; at: number }>();
  const reopen = sql.prepare(reopening, (db) =>
    db
      .updateTable('webhook_deliveries')
      .set({ status: literal.lit('pending'), next_attempt_at: reopening.at, delivered_at: literal.lit(null) })
      .where('id', '=', reopening.id)
      .where('status', '<>', literal.lit('pending')),
  );
  const hurrying = params<{ lane: string; payload: string; at: number }>();
  const hurry = sql.prepare(hurrying, (db) =>
    db
      .updateTable('jobs')
      .set({ run_at: hurrying.at })
      .where('queue', '=', literal.lit('webhook'))
      .where('lane', '=', hurrying.lane)
      .where('payload', '=', hurrying.payload)
      .where('status', '=', literal.lit('queued')),
  );
  const hurryDelivery = sql.prepare(reopening, (db) =>
    db.updateTable('webhook_deliveries').set({ next_attempt_at: reopening.at }).where('id', '=', reopening.id).where('status', '=', literal.lit('pending')),
  );
  const old = params<{ before: number }>();
  const pruneDeliveries = sql.prepare(old, (db) =>
    db.deleteFrom('webhook_deliveries').where('created_at', '<', old.before).where('status', 'in', [literal.lit<WebhookDeliveryRow['status']>('delivered'), literal.lit<WebhookDeliveryRow['status']>('failed')]),
  );
  const pruneMessages = sql.prepare(old, (db) =>
    db
      .deleteFrom('webhook_messages')
      .where('created_at', '<', old.before)
      .where(({ not, exists, selectFrom }) =>
        not(exists(selectFrom('webhook_deliveries as d').select(literal.lit(1).as('one')).whereRef('d.message_id', '=', 'webhook_messages.id'))),
      ),
  );
  const pendingOfEvent = params<{ endpoint_id: string; event: string }>();
  const countPending = sql.prepare(pendingOfEvent, (db) =>
    db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhook_messages as m', 'm.id', 'd.message_id')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('d.endpoint_id', '=', pendingOfEvent.endpoint_id)
      .where('d.status', '=', literal.lit('pending'))
      .where('m.event', '=', pendingOfEvent.event),
  );
  const jobId = params<{ id: number }>();
  const removeJob = sql.prepare(jobId, (db) => db.deleteFrom('jobs').where('id', '=', jobId.id).where('queue', '=', literal.lit('webhook')));
  const backlog = sql.prepare(params(), (db) =>
    db
      .selectFrom('webhook_deliveries')
      .select((eb) => ['endpoint_id', eb.fn.countAll<number>().as('n')])
      .where('status', '=', literal.lit('pending'))
      .groupBy('endpoint_id'),
  );

  const customerBacklog = sql.prepare(ofCustomer, (db) =>
    db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhook_endpoints as e', 'e.id', 'd.endpoint_id')
      .select((eb) => ['d.endpoint_id', eb.fn.countAll<number>().as('n')])
      .where('e.customer', '=', ofCustomer.customer)
      .where('d.status', '=', literal.lit('pending'))
      .groupBy('d.endpoint_id'),
  );

  // The fair pick: due delivery jobs whose endpoint has room, the customer with the fewest
  // deliveries running first, then the oldest due. Correlated counts over the running jobs of
  // the queue, which are few (the queue's concurrency); the due jobs are read through
  // `jobs_due_by_queue`.
  // On PostgreSQL the pick skips jobs other nodes are claiming this instant (FOR UPDATE OF j
  // SKIP LOCKED), as every claim of the job engine does; the claim records the node that holds
  // the lease, which renews it while the delivery runs (jobs/runner.ts).
  const lease = params<{ now: number; leaseUntil: number; token: string; node: string | null; perEndpoint: number; perCustomer: number }>();
  // A customer's deliveries running, for the pick's candidate `j` (its endpoint `e`).
  const runningOfCustomer = (eb: ExpressionBuilder<Database & { j: Database['jobs']; e: Database['webhook_endpoints'] }, 'j' | 'e'>) =>
    eb
      .selectFrom('jobs as r')
      .innerJoin('webhook_endpoints as re', 're.id', 'r.lane')
      .select((c) => c.fn.countAll<number>().as('n'))
      .where('r.queue', '=', literal.lit('webhook'))
      .where('r.status', '=', literal.lit('running'))
      .whereRef('re.customer', '=', 'e.customer');
  const claim = sql.prepare(lease, (db, fns) =>
    db
      .updateTable('jobs')
      .set((eb) => ({
        status: literal.lit('running'),
        attempts: eb('attempts', '+', literal.lit(1)),
        lease_until: lease.leaseUntil,
        lease_token: lease.token,
        lease_node: lease.node,
      }))
      // Checked again on the row itself: on PostgreSQL, a claimer that waited for another's
      // claim of the same row re-reads the row (not the pick) and takes nothing, so one job is
      // never claimed twice even where the pick is not `FOR UPDATE SKIP LOCKED`.
      .where('status', '=', literal.lit('queued'))
      .where((eb) =>
        eb(
          'id',
          '=',
          fns.skipLocked(
            eb
              .selectFrom('jobs as j')
              .innerJoin('webhook_endpoints as e', 'e.id', 'j.lane')
              .select('j.id')
              .where('j.queue', '=', literal.lit('webhook'))
              .where('j.status', '=', literal.lit('queued'))
              .where('j.run_at', '<=', lease.now)
              .where((w) =>
                w(
                  w
                    .selectFrom('jobs as r')
                    .select((c) => c.fn.countAll<number>().as('n'))
                    .where('r.queue', '=', literal.lit('webhook'))
                    .where('r.status', '=', literal.lit('running'))
                    .whereRef('r.lane', '=', 'j.lane'),
                  '<',
                  lease.perEndpoint,
                ),
              )
              // So one customer's slow receivers (every endpoint answering just before the time
              // limit) cannot hold every slot of the queue: the rest stay free for the others.
              .where((w) => w(runningOfCustomer(w), '<', lease.perCustomer))
              .orderBy((o) => runningOfCustomer(o))
              .orderBy('j.run_at')
              .orderBy('j.id')
              .limit(literal.lit(1)),
            'j',
          ),
        ),
      )
      .returningAll(),
  );

  return {
    createEndpoint: async (row) => void (await createEndpoint.run(row)),
    findEndpoint: (id) => findEndpoint.first({ id }),
    endpointsOf: (customer) => endpointsOf.all({ customer }),
    enabledEndpointsOf: (customer) => enabledOf.all({ customer }),
    saveEndpoint: async (row) => (await updateEndpoint.run(row)) > 0,
    async deleteEndpoint(id) {
      await deleteJobsOf.run({ id });
      return (await deleteEndpoint.run({ id })) > 0;
    },
    insertMessage: async (row) => void (await insertMessage.run(row)),
    insertDelivery: async (row) => void (await insertDelivery.run(row)),
    findDelivery: (id) => findDelivery.first({ id }),
    async toSend(deliveryId) {
      const d = await findDelivery.first({ id: deliveryId });
      if (!d) return undefined;
      const [m, e] = await Promise.all([messageOf.first({ id: d.message_id }), findEndpoint.first({ id: d.endpoint_id })]);
      return m && e ? { delivery: d, message: m, endpoint: e } : undefined;
    },
    deliveriesOf: (endpointId, limit, before) =>
      before
        ? nextPage.all({ endpoint_id: endpointId, limit, before_at: before.createdAt, before_id: before.id })
        : firstPage.all({ endpoint_id: endpointId, limit }),
    recordAttempt: async (id, a) => (await recordAttempt.run({ id, ...a })) > 0,
    markDelivered: async (id, at, a) => void (await markDelivered.run({ id, at, ...a })),
    markFailed: async (id, error) => void (await markFailed.run({ id, error })),
    async failPending(endpointId, error) {
      await deleteJobsOf.run({ id: endpointId });
      return failPendingOf.run({ endpoint_id: endpointId, error });
    },
    reopen: async (id, at) => (await reopen.run({ id, at })) > 0,
    async hurry(endpointId, deliveryId, at) {
      await hurry.run({ lane: endpointId, payload: deliveryJobPayload(deliveryId), at });
      await hurryDelivery.run({ id: deliveryId, at });
    },
    async prune(before) {
      const removed = await pruneDeliveries.run({ before });
      await pruneMessages.run({ before });
      return removed;
    },
    removeJob: async (id) => void (await removeJob.run({ id })),
    countPending: async (endpointId, event) => Number((await countPending.first({ endpoint_id: endpointId, event }))?.n ?? 0),
    backlog: async () => (await backlog.all()).map((r) => ({ endpoint_id: r.endpoint_id, n: Number(r.n) })),
    backlogOf: async (customer) => (await customerBacklog.all({ customer })).map((r) => ({ endpoint_id: r.endpoint_id, n: Number(r.n) })),
    claim: (now, leaseUntil, token, node, limits) => claim.first({ now, leaseUntil, token, node: node ?? null, ...limits }),
  };
}
