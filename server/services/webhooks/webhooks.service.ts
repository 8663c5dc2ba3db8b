import { v7 as uuidv7 } from 'uuid';
import type {
  CreatedWebhook,
  NewWebhookRequest,
  RotatedSecret,
  WebhookDelivery,
  WebhookDeliveryPage,
  WebhookEndpoint,
  WebhookTestResponse,
  WebhookUpdate,
} from '../../api/index.js';
import { WEBHOOK_TEST_EVENT } from '../../api/index.js';
import type { DatabasePort } from '../../db/port.js';
import type { WebhookDeliveryRow, WebhookEndpointRow } from '../../db/webhooks.repo.js';
import { AppError } from '../../errors.js';
import type { Clock } from '../../util/clock.js';
import { newSecret } from '../../webhooks/signing.js';
import type { Principal } from '../keys.service.js';
import type { WebhookMessages } from './messages.js';

/** How long the deliveries log keeps a delivery that ended (delivered or failed), and its message. */
export const DELIVERY_HISTORY_MS = 30 * 24 * 60 * 60_000;

/** How long a rotated-out secret still signs (CONTRACT §11: receivers switch without a gap). */
export const ROTATION_OVERLAP_MS = 24 * 60 * 60_000;

/**
 * Endpoints one customer may have. Each event is written once per subscribed endpoint, and each
 * endpoint is a label of the backlog metric: without a cap, one `user` key could multiply every
 * event into a million deliveries, and the metrics with it. A few more than a customer's systems
 * need (Stripe allows 16).
 */
export const MAX_ENDPOINTS_PER_CUSTOMER = 20;

/**
 * `webhook.test` messages one endpoint may have pending. A test is for a person checking a
 * receiver; without a cap, a loop on POST …/test fills the webhook queue with messages to a
 * receiver that is down, each retried for a day.
 */
export const MAX_PENDING_TESTS = 10;

export interface WebhooksServiceDeps {
  database: Pick<DatabasePort, 'unitOfWork' | 'repos'>;
  messages: WebhookMessages;
  clock: Clock;
  /** Why this host may not receive webhooks (it is or resolves to a non-public address), or undefined. */
  hostProblem: (hostname: string) => Promise<string | undefined>;
  /** New deliveries were committed: wake the job runner. */
  wake: () => void;
}

const iso = (ms: number) => new Date(ms).toISOString();
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

function encodeCursor(row: Pick<WebhookDeliveryRow, 'created_at' | 'id'>): string {
  return Buffer.from(JSON.stringify([row.created_at, row.id])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: number; id: string } {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof createdAt === 'number' && typeof id === 'string') return { createdAt, id };
  } catch {
    // fall through
  }
  throw new AppError('invalid_request', 'cursor: not a cursor this server issued');
}

export function toDelivery(row: WebhookDeliveryRow & { event: string }): WebhookDelivery {
  return {
    id: row.id,
    messageId: row.message_id,
    event: row.event,
    status: row.status,
    attempts: row.attempts,
    lastStatus: row.last_status,
    lastError: row.last_error,
    nextAttemptAt: row.status === 'pending' ? isoOrNull(row.next_attempt_at) : null,
    deliveredAt: isoOrNull(row.delivered_at),
    createdAt: iso(row.created_at),
  };
}

/**
 * Webhook endpoints of a customer (CONTRACT §11): registered, listed, changed, removed, tested;
 * their secrets rotated; their deliveries listed and retried. An endpoint belongs to the
 * customer of the key that registered it; another customer's answers 404 like a missing one,
 * for admin keys too (an endpoint receives its own customer's events only).
 */
export function createWebhooksService(deps: WebhooksServiceDeps) {
  const { database, clock } = deps;
  const repo = database.repos.webhooks;

  async function checkUrl(url: string): Promise<void> {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new AppError('invalid_request', 'url: not a URL');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new AppError('invalid_request', 'url: must be http or https');
    // Credentials in the URL would be shown by every GET and on the web UI page, and sent as
    // Basic auth on every attempt; a receiver authenticates a message by its signature instead.
    if (parsed.username || parsed.password) throw new AppError('invalid_request', 'url: must not contain a user name or password; verify the signature instead');
    const problem = await deps.hostProblem(parsed.hostname);
    if (problem) throw new AppError('invalid_request', `url: refused: ${problem} (only public addresses receive webhooks unless the server runs with --webhook-allow-private)`);
  }

  async function own(principal: Principal, id: string): Promise<WebhookEndpointRow> {
    const row = await repo.findEndpoint(id);
    if (!row || row.customer !== principal.customer) throw new AppError('not_found', `no webhook endpoint ${id}`);
    return row;
  }

  // The customer's own: every customer's would cost each listing a scan of all pending deliveries.
  const backlogs = async (customer: string) => new Map((await repo.backlogOf(customer)).map((b) => [b.endpoint_id, b.n]));

  const toEndpoint = (row: WebhookEndpointRow, backlog: number): WebhookEndpoint => ({
    id: row.id,
    url: row.url,
    events: JSON.parse(row.events) as WebhookEndpoint['events'],
    description: row.description,
    enabled: row.enabled === 1,
    disabledReason: row.disabled_reason,
    createdAt: iso(row.created_at),
    backlog,
  });
  const present = async (row: WebhookEndpointRow) => toEndpoint(row, (await backlogs(row.customer)).get(row.id) ?? 0);

  /** `["*"]` stays as it is; otherwise each event once, in the order given. */
  const normaliseEvents = (events: readonly string[]) => JSON.stringify(events.includes('*') ? ['*'] : [...new Set(events)]);

  return {
    async create(principal: Principal, input: NewWebhookRequest): Promise<CreatedWebhook> {
      await checkUrl(input.url);
      const now = clock.now();
      const row: WebhookEndpointRow = {
        id: uuidv7(),
        customer: principal.customer,
        url: input.url,
        description: input.description || null,
        events: normaliseEvents(input.events),
        enabled: 1,
        disabled_reason: null,
        secret: newSecret(),
        previous_secret: null,
        previous_secret_until: null,
        created_at: now,
        updated_at: now,
      };
      await database.unitOfWork(async (repos) => {
        // Counted in the unit of work that adds it, so concurrent requests cannot all pass the check on one count.
        if ((await repos.webhooks.endpointsOf(principal.customer)).length >= MAX_ENDPOINTS_PER_CUSTOMER) {
          throw new AppError('invalid_request', `at most ${MAX_ENDPOINTS_PER_CUSTOMER} webhook endpoints per customer; remove one first`);
        }
        await repos.webhooks.createEndpoint(row);
      });
      return { ...toEndpoint(row, 0), secret: row.secret };
    },

    async list(principal: Principal): Promise<WebhookEndpoint[]> {
      const [rows, backlog] = await Promise.all([repo.endpointsOf(principal.customer), backlogs(principal.customer)]);
      return rows.map((r) => toEndpoint(r, backlog.get(r.id) ?? 0));
    },

    get: async (principal: Principal, id: string) => present(await own(principal, id)),

    async update(principal: Principal, id: string, input: WebhookUpdate): Promise<WebhookEndpoint> {
      await own(principal, id);
      if (input.url !== undefined) await checkUrl(input.url);
      const saved = await database.unitOfWork(async (repos) => {
        const row = await repos.webhooks.findEndpoint(id);
        if (!row || row.customer !== principal.customer) throw new AppError('not_found', `no webhook endpoint ${id}`);
        const next: WebhookEndpointRow = { ...row, updated_at: clock.now() };
        if (input.url !== undefined) next.url = input.url;
        if (input.events !== undefined) next.events = normaliseEvents(input.events);
        if (input.description !== undefined) next.description = input.description || null;
        if (input.enabled !== undefined && (input.enabled ? 1 : 0) !== row.enabled) {
          next.enabled = input.enabled ? 1 : 0;
          next.disabled_reason = input.enabled ? null : 'disabled by its owner';
          // What was waiting is not sent (CONTRACT: disabled stops deliveries); the log says so
          // now, and a retry of one sends it once the endpoint is enabled again.
          if (!input.enabled) await repos.webhooks.failPending(id, 'not sent: the endpoint was disabled by its owner');
        }
        await repos.webhooks.saveEndpoint(next);
        return next;
      });
      return present(saved);
    },

    async remove(principal: Principal, id: string): Promise<void> {
      await own(principal, id);
      await database.unitOfWork((repos) => repos.webhooks.deleteEndpoint(id));
    },

    async test(principal: Principal, id: string): Promise<WebhookTestResponse> {
      const endpoint = await own(principal, id);
      const written = await database.unitOfWork(async (repos) => {
        if ((await repos.webhooks.countPending(id, WEBHOOK_TEST_EVENT)) >= MAX_PENDING_TESTS) {
          throw new AppError('too_many_requests', `at most ${MAX_PENDING_TESTS} test messages pending per endpoint; wait until they are delivered or failed (see its deliveries)`, {
            'Retry-After': '30',
          });
        }
        return deps.messages.recordTest(repos, endpoint, clock.now());
      });
      deps.wake();
      return { messageId: written.messageId, deliveryId: written.deliveryIds[0]! };
    },

    async rotateSecret(principal: Principal, id: string): Promise<RotatedSecret> {
      await own(principal, id);
      const now = clock.now();
      const rotated = await database.unitOfWork(async (repos) => {
        // Read again inside: the endpoint may have been removed since `own` looked.
        const row = await repos.webhooks.findEndpoint(id);
        if (!row || row.customer !== principal.customer) throw new AppError('not_found', `no webhook endpoint ${id}`);
        const next = { ...row, secret: newSecret(), previous_secret: row.secret, previous_secret_until: now + ROTATION_OVERLAP_MS, updated_at: now };
        await repos.webhooks.saveEndpoint(next);
        return next;
      });
      return { id, secret: rotated.secret, previousSecretExpiresAt: iso(rotated.previous_secret_until) };
    },

    async deliveries(principal: Principal, id: string, query: { limit: number; cursor?: string }): Promise<WebhookDeliveryPage> {
      await own(principal, id);
      const rows = await repo.deliveriesOf(id, query.limit + 1, query.cursor ? decodeCursor(query.cursor) : undefined);
      const page = rows.slice(0, query.limit);
      return { items: page.map(toDelivery), nextCursor: rows.length > query.limit ? encodeCursor(page[page.length - 1]!) : null };
    },

    /** Forgets deliveries that ended more than DELIVERY_HISTORY_MS ago (the scheduled purge calls it). */
    prune: () => repo.prune(clock.now() - DELIVERY_HISTORY_MS),

    /**
     * Sends a delivery again now: one that ended (delivered or failed) starts over with a new
     * job and the whole retry schedule; a pending one waiting for its next attempt is tried now.
     */
    async retry(principal: Principal, id: string, deliveryId: string): Promise<WebhookDelivery> {
      await own(principal, id);
      const now = clock.now();
      await database.unitOfWork(async (repos) => {
        const delivery = await repos.webhooks.findDelivery(deliveryId);
        if (!delivery || delivery.endpoint_id !== id) throw new AppError('not_found', `no delivery ${deliveryId} of webhook endpoint ${id}`);
        if (await repos.webhooks.reopen(deliveryId, now)) {
          await repos.jobs.enqueue({ kind: 'webhook_deliver', lane: id, payload: { deliveryId }, maxAttempts: deps.messages.maxAttempts }, now);
        } else {
          await repos.webhooks.hurry(id, deliveryId, now);
        }
      });
      deps.wake();
      return toDelivery(await findWithEvent(deliveryId));
    },
  };

  async function findWithEvent(deliveryId: string) {
    const found = await repo.toSend(deliveryId);
    // Removed with its endpoint between the retry's commit and this read.
    if (!found) throw new AppError('not_found', `no delivery ${deliveryId}`);
    return { ...found.delivery, event: found.message.event };
  }
}

export type WebhooksService = ReturnType<typeof createWebhooksService>;
