/** Webhook endpoints, messages, deliveries and the fair claim of their jobs, through the database port, on every dialect. */
import { describe, expect, it } from 'vitest';
import type { WebhookEndpointRow } from '../../../server/db/webhooks.repo.js';
import { createDeliverWebhookHandler } from '../../../server/jobs/handlers/deliver-webhook.js';
import { JobError } from '../../../server/jobs/runner.js';
import { createWebhookMessages } from '../../../server/services/webhooks/messages.js';
import { systemClock } from '../../../server/util/clock.js';
import { DIALECTS } from '../../helpers/database.js';

const endpoint = (id: string, customer: string, over: Partial<WebhookEndpointRow> = {}): WebhookEndpointRow => ({
  id,
  customer,
  url: `https://example.com/${id}`,
  description: null,
  events: '["*"]',
  enabled: 1,
  disabled_reason: null,
  secret: 'whsec_c2VjcmV0',
  previous_secret: null,
  previous_secret_until: null,
  created_at: 1,
  updated_at: 1,
  ...over,
});

const messages = createWebhookMessages({ maxAttempts: 3 });
const LIMITS = { perEndpoint: 2, perCustomer: 16 };

describe.each(DIALECTS)('webhooks repository on $dialect', ({ open }) => {
  it('keeps a customer\'s endpoints, changes and removes them', async () => {
    const db = await open();
    await db.repos.webhooks.createEndpoint(endpoint('e1', 'acme'));
    await db.repos.webhooks.createEndpoint(endpoint('e2', 'acme', { created_at: 2, enabled: 0 }));
    await db.repos.webhooks.createEndpoint(endpoint('e3', 'other'));
    expect((await db.repos.webhooks.endpointsOf('acme')).map((e) => e.id)).toEqual(['e1', 'e2']);
    expect((await db.repos.webhooks.enabledEndpointsOf('acme')).map((e) => e.id)).toEqual(['e1']);

    const e1 = (await db.repos.webhooks.findEndpoint('e1'))!;
    expect(await db.repos.webhooks.saveEndpoint({ ...e1, url: 'https://example.org/x', description: 'd', updated_at: 5 })).toBe(true);
    expect(await db.repos.webhooks.findEndpoint('e1')).toEqual({ ...e1, url: 'https://example.org/x', description: 'd', updated_at: 5 });
    expect(await db.repos.webhooks.deleteEndpoint('e1')).toBe(true);
    expect(await db.repos.webhooks.deleteEndpoint('e1')).toBe(false);
    expect(await db.repos.webhooks.findEndpoint('e1')).toBeUndefined();
  });

  it('writes one message per event and one delivery and job per subscribed endpoint, in the caller\'s unit of work', async () => {
    const db = await open();
    await db.repos.webhooks.createEndpoint(endpoint('all', 'acme'));
    await db.repos.webhooks.createEndpoint(endpoint('deleted-only', 'acme', { events: '["image.deleted"]' }));
    await db.repos.webhooks.createEndpoint(endpoint('off', 'acme', { enabled: 0 }));
    await db.repos.webhooks.createEndpoint(endpoint('theirs', 'other'));

    const written = await db.unitOfWork((repos) => messages.record(repos, 'acme', 'image.deleted', { id: 'img' }, 10));
    expect(written!.deliveryIds).toHaveLength(2);
    expect(await db.unitOfWork((repos) => messages.record(repos, 'nobody', 'image.deleted', { id: 'img' }, 10))).toBeUndefined();
    // Rolled back with the change that caused it: nothing is left.
    await expect(
      db.unitOfWork(async (repos) => {
        await messages.record(repos, 'acme', 'image.deleted', { id: 'gone' }, 11);
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');

    const [message] = await db.rows('webhook_messages');
    expect(await db.rows('webhook_messages')).toHaveLength(1);
    expect(JSON.parse(message!.payload)).toEqual({ type: 'image.deleted', timestamp: new Date(10).toISOString(), data: { id: 'img' } });
    const deliveries = await db.rows('webhook_deliveries');
    expect(deliveries.map((d) => [d.endpoint_id, d.status, d.message_id]).sort()).toEqual([
      ['all', 'pending', message!.id],
      ['deleted-only', 'pending', message!.id],
    ]);
    const jobs = await db.rows('jobs');
    expect(jobs.map((j) => [j.kind, j.queue, j.lane, j.max_attempts, JSON.parse(j.payload).deliveryId]).sort()).toEqual(
      deliveries.map((d) => ['webhook_deliver', 'webhook', d.endpoint_id, 3, d.id]).sort(),
    );
    // Only the image jobs count against --max-queued-jobs.
    expect(await db.repos.jobs.countQueued()).toBe(0);

    // Removing an endpoint removes its deliveries and its queued jobs.
    await db.unitOfWork((repos) => repos.webhooks.deleteEndpoint('all'));
    expect((await db.rows('webhook_deliveries')).map((d) => d.endpoint_id)).toEqual(['deleted-only']);
    expect((await db.rows('jobs')).map((j) => j.lane)).toEqual(['deleted-only']);
  });

  it('records attempts, delivers, fails, reopens and pages an endpoint\'s deliveries newest first', async () => {
    const db = await open();
    await db.repos.webhooks.createEndpoint(endpoint('e', 'acme'));
    const ids: string[] = [];
    for (let at = 1; at <= 5; at++) ids.push((await db.unitOfWork((repos) => messages.record(repos, 'acme', 'image.deleted', { id: String(at) }, at)))!.deliveryIds[0]!);

    await db.repos.webhooks.recordAttempt(ids[0]!, { attempts: 1, last_status: 500, last_error: 'answered 500', next_attempt_at: 99 });
    expect(await db.repos.webhooks.findDelivery(ids[0]!)).toMatchObject({ status: 'pending', attempts: 1, last_status: 500, last_error: 'answered 500', next_attempt_at: 99 });
    await db.repos.webhooks.markDelivered(ids[0]!, 100, { attempts: 2, last_status: 204, last_error: null, next_attempt_at: null });
    expect(await db.repos.webhooks.findDelivery(ids[0]!)).toMatchObject({ status: 'delivered', attempts: 2, last_status: 204, last_error: null, delivered_at: 100 });
    await db.repos.webhooks.recordAttempt(ids[1]!, { attempts: 1, last_status: null, last_error: 'refused', next_attempt_at: null });
    await db.repos.webhooks.markFailed(ids[1]!, null);
    expect(await db.repos.webhooks.findDelivery(ids[1]!)).toMatchObject({ status: 'failed', last_error: 'refused' });
    expect(await db.repos.webhooks.reopen(ids[1]!, 200)).toBe(true);
    expect(await db.repos.webhooks.reopen(ids[1]!, 200)).toBe(false);
    expect(await db.repos.webhooks.findDelivery(ids[1]!)).toMatchObject({ status: 'pending', next_attempt_at: 200 });

    const first = await db.repos.webhooks.deliveriesOf('e', 2);
    expect(first.map((d) => d.id)).toEqual([ids[4], ids[3]]);
    expect(first[0]!.event).toBe('image.deleted');
    const next = await db.repos.webhooks.deliveriesOf('e', 10, { createdAt: first[1]!.created_at, id: first[1]!.id });
    expect(next.map((d) => d.id)).toEqual([ids[2], ids[1], ids[0]]);
    expect(await db.repos.webhooks.backlog()).toEqual([{ endpoint_id: 'e', n: 4 }]);
  });

  it('forgets deliveries that ended before a time, and the messages left without any', async () => {
    const db = await open();
    await db.repos.webhooks.createEndpoint(endpoint('e', 'acme'));
    const ids: string[] = [];
    for (let at = 1; at <= 3; at++) ids.push((await db.unitOfWork((repos) => messages.record(repos, 'acme', 'image.deleted', { id: String(at) }, at)))!.deliveryIds[0]!);
    await db.repos.webhooks.markDelivered(ids[0]!, 5, { attempts: 1, last_status: 200, last_error: null, next_attempt_at: null });
    await db.repos.webhooks.markFailed(ids[2]!, 'gone');
    // The second is still pending: kept, with its message, however old.
    expect(await db.repos.webhooks.prune(3)).toBe(1);
    expect((await db.rows('webhook_deliveries')).map((d) => d.id)).toEqual([ids[1], ids[2]]);
    expect(await db.rows('webhook_messages')).toHaveLength(2);
    expect(await db.repos.webhooks.prune(100)).toBe(1);
    expect((await db.rows('webhook_deliveries')).map((d) => d.id)).toEqual([ids[1]]);
    expect((await db.rows('webhook_messages')).map((m) => JSON.parse(m.payload).data.id)).toEqual(['2']);
  });

  it('a delivery given up for good is failed, and its job leaves the table (the delivery is the record)', async () => {
    const db = await open();
    await db.repos.webhooks.createEndpoint(endpoint('e', 'acme'));
    const { deliveryIds } = (await db.unitOfWork((repos) => messages.record(repos, 'acme', 'image.deleted', { id: 'x' }, 1)))!;
    await db.repos.webhooks.recordAttempt(deliveryIds[0]!, { attempts: 3, last_status: 503, last_error: 'answered 503', next_attempt_at: null });
    const job = (await db.repos.webhooks.claim(10, 1000, 'token', 'node-a', LIMITS))!;
    // The claim names its node, whose runner renews the lease while the delivery runs.
    expect(job.lease_node).toBe('node-a');
    const handler = createDeliverWebhookHandler({ webhooks: db.repos.webhooks, send: async () => ({ status: 503, ms: 1 }), clock: systemClock, retrySchedule: [1] });
    await db.unitOfWork(async (repos) => {
      await repos.jobs.finish(job, 'token', 'failed', 20, 'answered 503');
      await handler.giveUp(job, new JobError('answered 503', 'webhook_not_delivered', false), repos);
    });
    expect(await db.rows('jobs')).toEqual([]);
    expect(await db.repos.webhooks.findDelivery(deliveryIds[0]!)).toMatchObject({ status: 'failed', attempts: 3, last_status: 503, last_error: 'answered 503' });
  });

  it('ends an endpoint\'s pending deliveries at once, with their queued jobs; an attempt in flight is then not recorded', async () => {
    const db = await open();
    await db.repos.webhooks.createEndpoint(endpoint('e', 'acme'));
    await db.repos.webhooks.createEndpoint(endpoint('other', 'acme'));
    const ids: string[] = [];
    for (let at = 1; at <= 3; at++) ids.push(...(await db.unitOfWork((repos) => messages.record(repos, 'acme', 'image.deleted', { id: String(at) }, at)))!.deliveryIds);
    const ofE = (await db.rows('webhook_deliveries')).filter((d) => d.endpoint_id === 'e').map((d) => d.id);
    await db.repos.webhooks.markDelivered(ofE[0]!, 5, { attempts: 1, last_status: 200, last_error: null, next_attempt_at: null });

    expect(await db.unitOfWork((repos) => repos.webhooks.failPending('e', 'not sent: disabled'))).toBe(2);
    const after = (await db.rows('webhook_deliveries')).filter((d) => d.endpoint_id === 'e');
    expect(after.map((d) => [d.id, d.status, d.last_error, d.next_attempt_at])).toEqual([
      [ofE[0], 'delivered', null, null],
      [ofE[1], 'failed', 'not sent: disabled', null],
      [ofE[2], 'failed', 'not sent: disabled', null],
    ]);
    expect((await db.rows('jobs')).map((j) => j.lane)).toEqual(['other', 'other', 'other']);
    expect(await db.repos.webhooks.backlog()).toEqual([{ endpoint_id: 'other', n: 3 }]);
    await db.repos.webhooks.createEndpoint(endpoint('theirs', 'globex'));
    await db.unitOfWork((repos) => messages.record(repos, 'globex', 'image.deleted', { id: 'g' }, 9));
    expect(await db.repos.webhooks.backlogOf('acme')).toEqual([{ endpoint_id: 'other', n: 3 }]);
    expect(await db.repos.webhooks.backlogOf('globex')).toEqual([{ endpoint_id: 'theirs', n: 1 }]);
    expect(await db.repos.webhooks.backlogOf('someone else')).toEqual([]);
    // The attempt that was in flight finds its delivery ended: nothing recorded, no retry.
    expect(await db.repos.webhooks.recordAttempt(ofE[1]!, { attempts: 1, last_status: 503, last_error: 'answered 503', next_attempt_at: 99 })).toBe(false);
    expect(await db.repos.webhooks.findDelivery(ofE[1]!)).toMatchObject({ status: 'failed', attempts: 0, last_error: 'not sent: disabled' });
  });

  it('an attempt whose endpoint was removed while it was in flight ends its job instead of retrying it', async () => {
    const db = await open();
    await db.repos.webhooks.createEndpoint(endpoint('e', 'acme'));
    await db.unitOfWork((repos) => messages.record(repos, 'acme', 'image.deleted', { id: 'x' }, 1));
    const job = (await db.repos.webhooks.claim(10, 1000, 'token', 'node-a', LIMITS))!;
    // The claim names its node, whose runner renews the lease while the delivery runs.
    expect(job.lease_node).toBe('node-a');
    const handler = createDeliverWebhookHandler({
      webhooks: db.repos.webhooks,
      // The owner removes the endpoint while the receiver is answering 503.
      send: async () => {
        await db.unitOfWork((repos) => repos.webhooks.deleteEndpoint('e'));
        return { status: 503, ms: 1 };
      },
      clock: systemClock,
      retrySchedule: [1_000],
    });
    let completed = false;
    await handler.run({
      job,
      signal: new AbortController().signal,
      deadline: Date.now() + 60_000,
      complete: (apply) =>
        db.unitOfWork(async (repos) => {
          if (!(await repos.jobs.finish(job, 'token', 'done', 20))) return false;
          await apply(repos);
          return (completed = true);
        }),
      whileOwned: (fn) =>
        db.unitOfWork(async (repos) => {
          if (!(await repos.jobs.isOwned(job.id, 'token'))) return false;
          await fn(repos);
          return true;
        }),
    });
    expect(completed).toBe(true);
    // Done, it leaves the table like every finished job of no image: none is left for a claim that never comes.
    expect(await db.rows('jobs')).toEqual([]);
    expect(await db.rows('webhook_deliveries')).toEqual([]);
  });

  it('claims delivery jobs fairly across customers, at most N at once per endpoint', async () => {
    const db = await open();
    await db.repos.webhooks.createEndpoint(endpoint('busy', 'big'));
    await db.repos.webhooks.createEndpoint(endpoint('busy2', 'big'));
    await db.repos.webhooks.createEndpoint(endpoint('quiet', 'small'));
    for (let at = 1; at <= 6; at++) await db.unitOfWork((repos) => messages.record(repos, 'big', 'image.deleted', { id: String(at) }, at));
    await db.unitOfWork((repos) => messages.record(repos, 'small', 'image.deleted', { id: 'late' }, 50));

    const claimed: string[] = [];
    for (let i = 0; i < 10; i++) {
      const job = await db.repos.webhooks.claim(100, 1000, `t${i}`, 'node-a', LIMITS);
      if (!job) break;
      claimed.push(job.lane!);
    }
    // Two per endpoint; the small customer's one job goes before the big customer's second
    // round although it was queued last.
    expect(claimed).toEqual(['busy', 'quiet', 'busy2', 'busy', 'busy2']);
    // Nothing due later is taken.
    expect(await db.repos.webhooks.claim(0, 1000, 'early', 'node-a', LIMITS)).toBeUndefined();
  });

  it('claims at most N deliveries at once per customer, so one customer\'s slow receivers leave room for the others', async () => {
    const db = await open();
    for (const id of ['a', 'b', 'c']) await db.repos.webhooks.createEndpoint(endpoint(id, 'big'));
    for (let at = 1; at <= 4; at++) await db.unitOfWork((repos) => messages.record(repos, 'big', 'image.deleted', { id: String(at) }, at));
    const claimOf = (token: string) => db.repos.webhooks.claim(100, 1000, token, 'node-a', { perEndpoint: 2, perCustomer: 4 });
    const claimed: string[] = [];
    for (let i = 0; i < 6; i++) {
      const job = await claimOf(`t${i}`);
      if (job) claimed.push(job.lane!);
    }
    // Three endpoints with room for two each, but four for the customer.
    expect(claimed).toHaveLength(4);
    await db.repos.webhooks.createEndpoint(endpoint('small', 'other'));
    await db.unitOfWork((repos) => messages.record(repos, 'other', 'image.deleted', { id: 'x' }, 50));
    expect((await claimOf('t-small'))?.lane).toBe('small');
    expect(await claimOf('t-more')).toBeUndefined();
  });
});
