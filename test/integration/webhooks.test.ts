/**
 * Webhooks end to end (CONTRACT §11): a real server delivering to real receivers on loopback
 * (so it runs with --webhook-allow-private), every message verified with the `standardwebhooks`
 * library as a receiver would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../helpers/eventually.js';
import { solid } from '../helpers/images.js';
import { startTestServer, type ApiClient, type TestServer } from '../helpers/server.js';
import { startReceiver, verify, type Receiver } from '../helpers/webhook-receiver.js';

const receivers: Receiver[] = [];
const receiver = async (...args: Parameters<typeof startReceiver>) => {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
};

let t: TestServer;
let user: ApiClient;
let otherCustomer: ApiClient;

beforeAll(async () => {
  t = await startTestServer({ config: { webhookAllowPrivate: 'true', webhookRetrySchedule: '200ms,200ms,200ms' } });
  user = await t.client('user', 'acme');
  otherCustomer = await t.client('user', 'globex');
});
afterAll(async () => {
  await t?.close();
  await Promise.all(receivers.map((r) => r.close()));
});

async function createEndpoint(client: ApiClient, url: string, events: string[] = ['*']) {
  const res = await client.json('POST', '/v1/webhooks', { url, events, description: 'test' });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; secret: string };
}

const deliveriesOf = async (client: ApiClient, id: string) => (await client.json('GET', `/v1/webhooks/${id}/deliveries`)).body.items as any[];

describe('webhook endpoints', () => {
  it('registers an endpoint for the key\'s customer, shows its secret once, and lets only that customer see or change it', async () => {
    const created = await createEndpoint(user, 'http://127.0.0.1:9/hook', ['image.processed', 'image.deleted']);
    expect(created).toMatchObject({ url: 'http://127.0.0.1:9/hook', events: ['image.processed', 'image.deleted'], enabled: true, description: 'test' });
    expect(created.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);

    const got = await user.json('GET', `/v1/webhooks/${created.id}`);
    expect(got.status).toBe(200);
    expect(got.body.secret).toBeUndefined();
    expect((await user.json('GET', '/v1/webhooks')).body.items.map((e: any) => e.id)).toContain(created.id);

    // Another customer's endpoint is exactly like a missing one.
    expect((await otherCustomer.json('GET', `/v1/webhooks/${created.id}`)).status).toBe(404);
    expect((await otherCustomer.json('PATCH', `/v1/webhooks/${created.id}`, { enabled: false })).status).toBe(404);
    expect((await otherCustomer.json('DELETE', `/v1/webhooks/${created.id}`)).status).toBe(404);
    expect((await otherCustomer.json('GET', '/v1/webhooks')).body.items).toEqual([]);
    expect((await otherCustomer.json('POST', `/v1/webhooks/${created.id}/test`)).status).toBe(404);
    expect((await otherCustomer.json('POST', `/v1/webhooks/${created.id}/rotate-secret`)).status).toBe(404);
    expect((await otherCustomer.json('GET', `/v1/webhooks/${created.id}/deliveries`)).status).toBe(404);
    // An admin key of another customer too: an endpoint is its customer's only.
    expect((await (await t.client('admin', 'globex')).json('GET', `/v1/webhooks/${created.id}`)).status).toBe(404);
    // A delivery is reached through its own endpoint only, even among one customer's endpoints.
    const sibling = await createEndpoint(user, 'http://127.0.0.1:9/sibling');
    const { deliveryId } = (await user.json('POST', `/v1/webhooks/${created.id}/test`)).body;
    expect((await user.json('POST', `/v1/webhooks/${sibling.id}/deliveries/${deliveryId}/retry`)).status).toBe(404);
    expect((await otherCustomer.json('POST', `/v1/webhooks/${created.id}/deliveries/${deliveryId}/retry`)).status).toBe(404);
    expect((await user.json('DELETE', `/v1/webhooks/${sibling.id}`)).status).toBe(204);
    // A business key reads statistics only.
    const business = await t.client('business', 'acme');
    expect((await business.json('GET', '/v1/webhooks')).status).toBe(403);

    const patched = await user.json('PATCH', `/v1/webhooks/${created.id}`, { events: ['*'], enabled: false });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ events: ['*'], enabled: false, disabledReason: 'disabled by its owner' });
    expect((await user.json('PATCH', `/v1/webhooks/${created.id}`, { url: 'ftp://example.com/' })).status).toBe(400);
    expect((await user.json('POST', '/v1/webhooks', { url: 'http://127.0.0.1/', events: ['image.uploaded'] })).status).toBe(400);

    expect((await user.json('DELETE', `/v1/webhooks/${created.id}`)).status).toBe(204);
    expect((await user.json('GET', `/v1/webhooks/${created.id}`)).status).toBe(404);
  });
});

describe('webhook delivery', () => {
  it('sends image.processed with the image record and image.deleted with its id, each verified', async () => {
    const r = await receiver();
    const client = await t.client('user', 'photos');
    const { secret } = await createEndpoint(client, r.url, ['image.processed', 'image.deleted']);
    const upload = await client.upload([{ name: 'a.png', data: await solid(64, 48, 'png'), type: 'image/png' }]);
    expect(upload.status).toBe(202);
    await client.waitFor(upload.body.id);
    await eventually(() => r.received.length >= 1, 15_000, 'image.processed');
    const processed = verify(secret, r.received[0]!);
    expect(processed.type).toBe('image.processed');
    expect(processed.data).toMatchObject({ id: upload.body.id, customer: 'photos', status: 'done', width: 64, height: 48 });
    // The record exactly as GET /v1/image/{id} answers it: every field, the same names and values.
    expect(processed.data).toEqual((await client.json('GET', `/v1/image/${upload.body.id}`)).body);
    expect(Date.parse(processed.timestamp)).toBeGreaterThan(0);

    expect((await client.json('DELETE', `/v1/image/${upload.body.id}`)).status).toBe(204);
    await eventually(() => r.received.length >= 2, 15_000, 'image.deleted');
    const deleted = verify(secret, r.received[1]!);
    expect(deleted).toMatchObject({ type: 'image.deleted', data: { id: upload.body.id } });
    // Only the events it subscribed to, and no other customer's.
    await user.upload([{ name: 'b.png', data: await solid(8, 8, 'png'), type: 'image/png' }]);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(r.received).toHaveLength(2);
  });

  it('sends image.failed with the record and its error when processing fails for good', async () => {
    const r = await receiver();
    const client = await t.client('user', 'broken');
    const { secret } = await createEndpoint(client, r.url, ['image.failed']);
    // A JPEG cut short: its header reads, its pixels do not decode.
    const jpeg = await solid(800, 600, 'jpeg');
    const upload = await client.upload([{ name: 'cut.jpg', data: jpeg.subarray(0, Math.floor(jpeg.length / 3)), type: 'image/jpeg' }]);
    expect(upload.status).toBe(202);
    const record = await client.waitFor(upload.body.id);
    expect(record.status).toBe('failed');
    await eventually(() => r.received.length >= 1, 15_000, 'image.failed');
    const failed = verify(secret, r.received[0]!);
    expect(failed).toMatchObject({ type: 'image.failed', data: { id: upload.body.id, status: 'failed', error: { code: record.error.code } } });
  });

  it('retries a receiver that answers 500 twice: three requests with the same webhook-id, then delivered', async () => {
    const r = await receiver((n) => ({ status: n <= 2 ? 500 : 200 }));
    const { id, secret } = await createEndpoint(user, r.url);
    const test = await user.json('POST', `/v1/webhooks/${id}/test`);
    expect(test.status).toBe(202);
    await eventually(async () => (await deliveriesOf(user, id))[0]?.status === 'delivered', 15_000, 'delivered');
    expect(r.received).toHaveLength(3);
    expect(new Set(r.ids())).toEqual(new Set([test.body.messageId]));
    for (const m of r.received) expect(verify(secret, m)).toMatchObject({ type: 'webhook.test', data: { endpointId: id } });
    const [delivery] = await deliveriesOf(user, id);
    expect(delivery).toMatchObject({ id: test.body.deliveryId, messageId: test.body.messageId, event: 'webhook.test', status: 'delivered', attempts: 3, lastStatus: 200, lastError: null, nextAttemptAt: null });
    // Growing delays between attempts: the schedule's 200 ms, give or take a fifth.
    expect(r.received[1]!.at - r.received[0]!.at).toBeGreaterThanOrEqual(150);

    // Counted by outcome, timed, and the backlog per endpoint (none left for this one).
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(Number(/darkroom_webhook_deliveries_total\{outcome="retry",node="[^"]*"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(2);
    expect(Number(/darkroom_webhook_deliveries_total\{outcome="delivered",node="[^"]*"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(1);
    expect(metrics).toMatch(/darkroom_webhook_delivery_seconds_count\{[^}]*outcome="delivered"[^}]*\} \d+/);
    expect(metrics).toMatch(/# TYPE darkroom_webhook_backlog gauge/);
    expect(metrics).not.toContain(`darkroom_webhook_backlog{endpoint="${id}",node=`);
  });

  it('counts pending deliveries per endpoint in the metrics', async () => {
    const r = await receiver(() => 'hang');
    const { id } = await createEndpoint(user, r.url);
    for (let i = 0; i < 3; i++) await user.json('POST', `/v1/webhooks/${id}/test`);
    const metrics = await (await fetch(`${t.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`darkroom_webhook_backlog\\{endpoint="${id}",node="[^"]*"\\} 3\n`));
    expect((await user.json('GET', `/v1/webhooks/${id}`)).body.backlog).toBe(3);
  });

  it('fails a delivery after the last step of the schedule, and retries it on request', async () => {
    let healthy = false;
    const r = await receiver(() => ({ status: healthy ? 204 : 503 }));
    const { id } = await createEndpoint(user, r.url);
    await user.json('POST', `/v1/webhooks/${id}/test`);
    const failed = await eventually(async () => (await deliveriesOf(user, id)).find((d) => d.status === 'failed'), 15_000, 'failed');
    expect(failed).toMatchObject({ attempts: 4, lastStatus: 503, lastError: 'answered 503' });
    expect(r.received).toHaveLength(4);

    healthy = true;
    const retried = await user.json('POST', `/v1/webhooks/${id}/deliveries/${failed.id}/retry`);
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ id: failed.id, status: 'pending' });
    await eventually(async () => (await deliveriesOf(user, id))[0]?.status === 'delivered', 15_000, 'delivered after retry');
    expect(new Set(r.ids()).size).toBe(1);
    expect((await otherCustomer.json('POST', `/v1/webhooks/${id}/deliveries/${failed.id}/retry`)).status).toBe(404);
    expect((await user.json('POST', `/v1/webhooks/${id}/deliveries/nope/retry`)).status).toBe(404);
  });

  it('disables an endpoint that answers 410, and does not call it again until it is enabled', async () => {
    let gone = true;
    const r = await receiver(() => ({ status: gone ? 410 : 200 }));
    const { id } = await createEndpoint(user, r.url);
    await user.json('POST', `/v1/webhooks/${id}/test`);
    await eventually(async () => (await user.json('GET', `/v1/webhooks/${id}`)).body.enabled === false, 15_000, 'disabled');
    expect((await user.json('GET', `/v1/webhooks/${id}`)).body.disabledReason).toMatch(/410/);
    const [delivery] = await deliveriesOf(user, id);
    expect(delivery).toMatchObject({ status: 'failed', attempts: 1, lastStatus: 410 });

    await user.json('POST', `/v1/webhooks/${id}/test`);
    await eventually(async () => (await deliveriesOf(user, id)).every((d) => d.status === 'failed'), 15_000, 'second failed');
    expect(r.received).toHaveLength(1);

    gone = false;
    expect((await user.json('PATCH', `/v1/webhooks/${id}`, { enabled: true })).body).toMatchObject({ enabled: true, disabledReason: null });
    await user.json('POST', `/v1/webhooks/${id}/test`);
    await eventually(async () => (await deliveriesOf(user, id))[0]?.status === 'delivered', 15_000, 'delivered once enabled');
  });

  it('signs with both secrets for the overlap after a rotation, so either verifies', async () => {
    const r = await receiver();
    const { id, secret: old } = await createEndpoint(user, r.url);
    const rotated = await user.json('POST', `/v1/webhooks/${id}/rotate-secret`);
    expect(rotated.status).toBe(200);
    const fresh = rotated.body.secret as string;
    expect(fresh).not.toBe(old);
    expect(Date.parse(rotated.body.previousSecretExpiresAt) - Date.now()).toBeGreaterThan(23 * 3600_000);
    await user.json('POST', `/v1/webhooks/${id}/test`);
    await eventually(() => r.received.length === 1, 15_000, 'test message');
    const [message] = r.received;
    expect(message!.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    expect(verify(old, message!).type).toBe('webhook.test');
    expect(verify(fresh, message!).type).toBe('webhook.test');
    expect(() => verify('whsec_' + Buffer.alloc(24, 1).toString('base64'), message!)).toThrow();
  });

  it('does not let a receiver that answers after 9 s delay another endpoint\'s deliveries', async () => {
    const slow = await receiver(() => ({ status: 200, delayMs: 9_000 }));
    const fast = await receiver();
    const slowEndpoint = await createEndpoint(user, slow.url);
    const fastEndpoint = await createEndpoint(user, fast.url);
    for (let i = 0; i < 4; i++) await user.json('POST', `/v1/webhooks/${slowEndpoint.id}/test`);
    await eventually(() => slow.received.length >= 2, 5_000, 'slow receiver busy');
    const sent = Date.now();
    await user.json('POST', `/v1/webhooks/${fastEndpoint.id}/test`);
    await eventually(() => fast.received.length === 1, 3_000, 'fast receiver served while the slow one is busy');
    expect(Date.now() - sent).toBeLessThan(3_000);
    // The slow endpoint takes at most two deliveries at once.
    expect(slow.received).toHaveLength(2);
  }, 20_000);

  it('does not let one customer\'s slow receivers take every delivery slot from another customer', async () => {
    const s = await startTestServer({ config: { webhookAllowPrivate: 'true' } });
    try {
      const slow = await receiver(() => ({ status: 200, delayMs: 9_000 }));
      const fast = await receiver();
      const greedy = await s.client('user', 'greedy');
      // Ten endpoints with two deliveries each: twenty would run at once, more than the queue's 16.
      for (let i = 0; i < 10; i++) {
        const { id } = await createEndpoint(greedy, `${slow.url}/${i}`);
        for (let n = 0; n < 2; n++) await greedy.json('POST', `/v1/webhooks/${id}/test`);
      }
      await eventually(() => slow.received.length >= 8, 5_000, 'the slow receivers busy');
      const patient = await s.client('user', 'patient');
      const { id } = await createEndpoint(patient, fast.url);
      const sent = Date.now();
      await patient.json('POST', `/v1/webhooks/${id}/test`);
      await eventually(() => fast.received.length === 1, 3_000, 'another customer served while the slow ones are busy');
      expect(Date.now() - sent).toBeLessThan(3_000);
      // Half the queue for one customer at most.
      expect(slow.received).toHaveLength(8);
    } finally {
      await s.close();
    }
  }, 30_000);

  it('pages an endpoint\'s deliveries newest first', async () => {
    const r = await receiver();
    const { id } = await createEndpoint(user, r.url);
    const sent: string[] = [];
    for (let i = 0; i < 3; i++) sent.push((await user.json('POST', `/v1/webhooks/${id}/test`)).body.deliveryId);
    const first = await user.json('GET', `/v1/webhooks/${id}/deliveries?limit=2`);
    expect(first.body.items.map((d: any) => d.id)).toEqual([sent[2], sent[1]]);
    const rest = await user.json('GET', `/v1/webhooks/${id}/deliveries?limit=2&cursor=${first.body.nextCursor}`);
    expect(rest.body).toMatchObject({ items: [{ id: sent[0] }], nextCursor: null });
    expect((await user.json('GET', `/v1/webhooks/${id}/deliveries?cursor=nope`)).status).toBe(400);
  });
});

describe('disabling an endpoint', () => {
  it('ends its pending deliveries at once, whether its owner disabled it or it answered 410, instead of leaving them waiting for their next attempt', async () => {
    // A long schedule: without this, a delivery waiting for its retry would stay pending for an hour.
    const s = await startTestServer({ config: { webhookAllowPrivate: 'true', webhookRetrySchedule: '1h' } });
    try {
      const client = await s.client('user', 'disabling');
      const r = await receiver((n) => ({ status: n === 2 ? 410 : 503 }));
      const { id } = await createEndpoint(client, r.url);
      const waiting = (await client.json('POST', `/v1/webhooks/${id}/test`)).body.deliveryId as string;
      await eventually(async () => (await deliveriesOf(client, id)).find((d) => d.id === waiting)?.attempts === 1, 15_000, 'first attempt');
      expect((await deliveriesOf(client, id))[0]).toMatchObject({ status: 'pending', lastStatus: 503 });

      // The next message is answered 410: the endpoint is disabled, and the waiting one ends too.
      await client.json('POST', `/v1/webhooks/${id}/test`);
      await eventually(async () => (await client.json('GET', `/v1/webhooks/${id}`)).body.enabled === false, 15_000, 'disabled by 410');
      expect((await deliveriesOf(client, id)).find((d) => d.id === waiting)).toMatchObject({
        status: 'failed',
        nextAttemptAt: null,
        lastError: 'not sent: the endpoint answered 410 Gone and was disabled',
      });
      expect((await client.json('GET', `/v1/webhooks/${id}`)).body.backlog).toBe(0);

      // Enabled again, a message waits for its retry; disabled by its owner, it ends at once.
      await client.json('PATCH', `/v1/webhooks/${id}`, { enabled: true });
      const third = (await client.json('POST', `/v1/webhooks/${id}/test`)).body.deliveryId as string;
      await eventually(async () => (await deliveriesOf(client, id)).find((d) => d.id === third)?.attempts === 1, 15_000, 'third attempt');
      expect((await client.json('PATCH', `/v1/webhooks/${id}`, { enabled: false })).body).toMatchObject({ enabled: false, backlog: 0 });
      expect((await deliveriesOf(client, id)).find((d) => d.id === third)).toMatchObject({ status: 'failed', lastStatus: 503, lastError: 'not sent: the endpoint was disabled by its owner' });
      expect(r.received).toHaveLength(3);
    } finally {
      await s.close();
    }
  });
});

describe('caps per customer', () => {
  it('refuses a 21st endpoint of one customer with 400, and an 11th pending test message to one endpoint with 429', async () => {
    const s = await startTestServer({ config: { webhookAllowPrivate: 'true', webhookRetrySchedule: '1h' } });
    try {
      const client = await s.client('user', 'many');
      const down = await receiver(() => ({ status: 503 }));
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) ids.push((await createEndpoint(client, `${down.url}/${i}`, ['image.deleted'])).id);
      const refused = await client.json('POST', '/v1/webhooks', { url: down.url, events: ['*'] });
      expect(refused.status).toBe(400);
      expect(refused.body.error).toMatchObject({ code: 'invalid_request', message: expect.stringMatching(/at most 20 webhook endpoints per customer/) });
      // Another customer is not affected; removing one makes room.
      expect((await (await s.client('user', 'few')).json('POST', '/v1/webhooks', { url: down.url, events: ['*'] })).status).toBe(201);
      expect((await client.json('DELETE', `/v1/webhooks/${ids.pop()}`)).status).toBe(204);
      expect((await client.json('POST', '/v1/webhooks', { url: down.url, events: ['*'] })).status).toBe(201);

      // Ten test messages wait for a receiver that answers 503; the eleventh is refused.
      const id = ids[0]!;
      for (let i = 0; i < 10; i++) expect((await client.json('POST', `/v1/webhooks/${id}/test`)).status).toBe(202);
      const flood = await client.json('POST', `/v1/webhooks/${id}/test`);
      expect(flood.status).toBe(429);
      expect(flood.body.error).toMatchObject({ code: 'too_many_requests', message: expect.stringMatching(/at most 10 test messages pending per endpoint/) });
      expect(flood.headers.get('retry-after')).toBe('30');
      expect((await client.json('GET', `/v1/webhooks/${id}`)).body.backlog).toBe(10);
      // Another endpoint has its own ten.
      expect((await client.json('POST', `/v1/webhooks/${ids[1]}/test`)).status).toBe(202);
      // Once they end, tests are taken again.
      await client.json('PATCH', `/v1/webhooks/${id}`, { enabled: false });
      expect((await client.json('POST', `/v1/webhooks/${id}/test`)).status).toBe(202);
    } finally {
      await s.close();
    }
  });
});

describe('image.expired', () => {
  it('is sent once per image when its processed files expire', async () => {
    const s = await startTestServer({ config: { webhookAllowPrivate: 'true', processedTtl: '1s', purgeSchedule: '* * * * * *' } });
    try {
      const r = await receiver();
      const client = await s.client('user', 'ttl');
      const { secret } = await createEndpoint(client, r.url, ['image.expired']);
      const upload = await client.upload([{ name: 'a.png', data: await solid(32, 32, 'png'), type: 'image/png' }]);
      await client.waitFor(upload.body.id);
      await eventually(() => r.received.length >= 1, 15_000, 'image.expired');
      const expired = verify(secret, r.received[0]!);
      expect(expired.type).toBe('image.expired');
      expect(expired.data.id).toBe(upload.body.id);
      expect(expired.data.variants.every((v: any) => v.status === 'expired')).toBe(true);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      expect(r.received).toHaveLength(1);
    } finally {
      await s.close();
    }
  });
});

describe('what does not deliver', () => {
  it('a receiver slower than --webhook-timeout, a redirect (never followed), a refused connection', async () => {
    const s = await startTestServer({ config: { webhookAllowPrivate: 'true', webhookTimeout: '300ms', webhookRetrySchedule: '100ms' } });
    try {
      const client = await s.client('user', 'strict');
      const target = await receiver();
      const slow = await receiver(() => ({ status: 200, delayMs: 2_000 }));
      // Answers every request with a redirect to a receiver that would take it.
      const redirect = await receiver(() => ({ status: 307, headers: { location: target.url } }));
      const closed = await receiver();
      await closed.close();

      const endpoints = {
        slow: (await createEndpoint(client, slow.url)).id,
        redirect: (await createEndpoint(client, redirect.url)).id,
        closed: (await createEndpoint(client, closed.url)).id,
      };
      for (const id of Object.values(endpoints)) await client.json('POST', `/v1/webhooks/${id}/test`);
      const settled = async (id: string) => {
        const [d] = await deliveriesOf(client, id);
        return d?.status === 'failed' ? d : undefined;
      };
      expect(await eventually(() => settled(endpoints.slow), 15_000, 'slow failed')).toMatchObject({ attempts: 2, lastStatus: null, lastError: 'no answer within 300 ms' });
      expect(await eventually(() => settled(endpoints.redirect), 15_000, 'redirect failed')).toMatchObject({ attempts: 2, lastStatus: 307, lastError: 'answered 307' });
      expect((await eventually(() => settled(endpoints.closed), 15_000, 'closed failed')).lastError).toMatch(/ECONNREFUSED/);
      expect(redirect.received).toHaveLength(2);
      expect(target.received).toHaveLength(0);
    } finally {
      await s.close();
    }
  });
});
