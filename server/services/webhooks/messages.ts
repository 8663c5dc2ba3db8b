import { v7 as uuidv7 } from 'uuid';
import { WEBHOOK_TEST_EVENT, type WebhookEventType } from '../../api/index.js';
import type { Repositories } from '../../db/repositories.js';
import type { WebhookEndpointRow } from '../../db/webhooks.repo.js';
import { toImageRecord } from '../image-record.js';

/** The repositories a message is written with: those of the caller's unit of work. */
export type MessageRepos = Pick<Repositories, 'webhooks' | 'jobs'>;

/** Whether an endpoint takes this event (`*` takes every one). */
export function subscribes(endpoint: Pick<WebhookEndpointRow, 'events'>, event: string): boolean {
  const events = JSON.parse(endpoint.events) as string[];
  return events.includes('*') || events.includes(event);
}

/**
 * Webhook messages, written inside the unit of work of the change that causes them, so a
 * message exists exactly when its change committed: it survives kill -9 with it, and a
 * rolled-back change leaves none. One message per event (its body fixed now: every retry sends
 * the same bytes under the same `webhook-id`), one delivery per subscribed endpoint, one
 * `webhook_deliver` job per delivery. Nothing is written when no endpoint of the customer
 * takes the event.
 */
export function createWebhookMessages(deps: { maxAttempts: number }) {
  async function write(repos: MessageRepos, customer: string, type: string, data: unknown, at: number, endpoints: WebhookEndpointRow[]) {
    if (!endpoints.length) return undefined;
    const messageId = `msg_${uuidv7()}`;
    const payload = JSON.stringify({ type, timestamp: new Date(at).toISOString(), data });
    await repos.webhooks.insertMessage({ id: messageId, customer, event: type, payload, created_at: at });
    const deliveryIds: string[] = [];
    for (const endpoint of endpoints) {
      const id = uuidv7();
      await repos.webhooks.insertDelivery({
        id,
        message_id: messageId,
        endpoint_id: endpoint.id,
        status: 'pending',
        last_status: null,
        last_error: null,
        next_attempt_at: at,
        delivered_at: null,
        created_at: at,
      });
      await repos.jobs.enqueue({ kind: 'webhook_deliver', lane: endpoint.id, payload: { deliveryId: id }, maxAttempts: deps.maxAttempts }, at);
      deliveryIds.push(id);
    }
    return { messageId, deliveryIds };
  }

  return {
    /** Attempts a delivery's job gets: the first and one per step of the retry schedule. */
    maxAttempts: deps.maxAttempts,

    /** An event of a customer, to every enabled endpoint of theirs that takes it. */
    async record(repos: MessageRepos, customer: string, type: WebhookEventType, data: unknown, at: number) {
      const endpoints = (await repos.webhooks.enabledEndpointsOf(customer)).filter((e) => subscribes(e, type));
      return write(repos, customer, type, data, at, endpoints);
    },

    /** An image event whose data is the image's record as it stands in this unit of work. */
    async recordImage(repos: MessageRepos & Pick<Repositories, 'images'>, type: 'image.processed' | 'image.failed' | 'image.expired', imageId: string, at: number) {
      const row = await repos.images.findById(imageId);
      if (!row) return undefined;
      const endpoints = (await repos.webhooks.enabledEndpointsOf(row.customer)).filter((e) => subscribes(e, type));
      if (!endpoints.length) return undefined;
      const record = toImageRecord(row, await repos.images.variantsOf(imageId), at);
      return write(repos, row.customer, type, record, at, endpoints);
    },

    /** `webhook.test`: to this endpoint only, whatever it subscribes to. */
    recordTest: (repos: MessageRepos, endpoint: WebhookEndpointRow, at: number) =>
      write(repos, endpoint.customer, WEBHOOK_TEST_EVENT, { endpointId: endpoint.id }, at, [endpoint]) as Promise<{ messageId: string; deliveryIds: string[] }>,
  };
}

export type WebhookMessages = ReturnType<typeof createWebhookMessages>;
