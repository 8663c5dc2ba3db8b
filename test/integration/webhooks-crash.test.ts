/**
 * At least once across kill -9 (CONTRACT §11): messages are committed with the change that
 * causes them and delivered by durable jobs, so a server killed with deliveries pending (one of
 * them in flight) delivers every one after it starts again, each under its own webhook-id.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawnServer, type ChildServer } from '../helpers/child.js';
import { eventually } from '../helpers/eventually.js';
import { ADMIN_KEY, ApiClient, tempDirs } from '../helpers/server.js';
import { startReceiver, verify, type Receiver } from '../helpers/webhook-receiver.js';

const dataDir = tempDirs('darkroom-webhooks-crash-')();
let child: ChildServer | undefined;
let r: Receiver | undefined;
afterAll(async () => {
  child?.proc.kill('SIGKILL');
  await r?.close();
});

const start = () =>
  spawnServer(['serve', '--data-dir', dataDir, '--port', '0', '--workers', '1', '--admin-key', ADMIN_KEY, '--webhook-allow-private', '--webhook-retry-schedule', '1s,1s,1s,1s,1s,1s']);

describe('webhooks across kill -9', () => {
  it('delivers every pending message after a restart, the one in flight included', async () => {
    let up = false;
    // Down at first: the first request hangs (in flight at the kill), the others get 503.
    r = await startReceiver((n) => (up ? { status: 204 } : n === 1 ? 'hang' : { status: 503 }));
    child = await start();
    const admin = new ApiClient(child.url, ADMIN_KEY);
    const created = await admin.json('POST', '/v1/keys', { customer: 'acme', role: 'user' });
    const user = new ApiClient(child.url, created.body.key);
    const endpoint = (await user.json('POST', '/v1/webhooks', { url: r.url, events: ['*'] })).body;
    const sent: string[] = [];
    for (let i = 0; i < 5; i++) sent.push((await user.json('POST', `/v1/webhooks/${endpoint.id}/test`)).body.messageId);
    await eventually(() => r!.received.length >= 3, 15_000, 'attempts under way');

    child.proc.kill('SIGKILL');
    await child.exited;
    up = true;
    child = await start();

    await eventually(async () => sent.every((id) => r!.ids().includes(id)) && (await deliveredAll()), 30_000, 'every message delivered');
    for (const m of r.received) expect(verify(endpoint.secret, m).type).toBe('webhook.test');
    const after = new ApiClient(child.url, created.body.key);
    const items = (await after.json('GET', `/v1/webhooks/${endpoint.id}/deliveries`)).body.items as Array<{ messageId: string; status: string }>;
    expect(items.map((d) => d.status)).toEqual(Array(5).fill('delivered'));
    expect(new Set(items.map((d) => d.messageId))).toEqual(new Set(sent));

    async function deliveredAll() {
      const page = await new ApiClient(child!.url, created.body.key).json('GET', `/v1/webhooks/${endpoint.id}/deliveries`);
      return page.body.items.every((d: { status: string }) => d.status === 'delivered');
    }
  }, 90_000);
});
