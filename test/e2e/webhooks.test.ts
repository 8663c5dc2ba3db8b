import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type ApiClient, type TestServer } from '../helpers/server.js';
import { startReceiver, verify, type Receiver } from '../helpers/webhook-receiver.js';
import { launchBrowser, openPage, reviewView } from './helpers/browser.js';

/**
 * The Webhooks page with a user key: an endpoint added in the UI (its secret shown once), the
 * test message sent to a real receiver on loopback and seen delivered in the log; edit, disable
 * and retry from the page.
 */
let t: TestServer;
let browser: Browser;
let user: ApiClient;
let r: Receiver;

beforeAll(async () => {
  [t, browser, r] = await Promise.all([startTestServer({ config: { webhookAllowPrivate: 'true' } }), launchBrowser(), startReceiver()]);
  user = await t.client('user', 'acme');
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
  await r?.close();
});

const SHOWN = { timeout: 15_000 };

describe('the Webhooks page', () => {
  it('adds an endpoint, sends the test message and shows it delivered in the log', async () => {
    const { page, problems } = await openPage(browser);
    await page.goto(`${t.url}/#key=${user.key}`);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Webhooks' }).click();
    await page.getByRole('heading', { name: 'Webhooks' }).waitFor();

    await page.getByRole('button', { name: 'Add endpoint' }).click();
    await page.getByLabel('URL').fill(r.url);
    await page.getByLabel('Description').fill('Shop');
    await page.getByRole('dialog').getByRole('button', { name: 'Add endpoint' }).click();
    const secret = (await page.getByTestId('created-webhook-secret').textContent())!.trim();
    expect(secret).toMatch(/^whsec_/);
    await page.getByRole('button', { name: 'Done' }).click();

    const row = page.getByTestId('webhook-row');
    await row.waitFor();
    expect(await row.getAttribute('data-enabled')).toBe('true');
    await row.getByRole('button', { name: 'Send test' }).click();
    const delivery = page.getByTestId('webhook-delivery').first();
    await page.locator('[data-testid="webhook-delivery"][data-status="delivered"]').waitFor(SHOWN);
    expect(await delivery.getAttribute('data-event')).toBe('webhook.test');
    expect(await delivery.locator('td').nth(1).textContent()).toContain('204');
    expect(r.received).toHaveLength(1);
    expect(verify(secret, r.received[0]!).type).toBe('webhook.test');

    // Retry it from the log: the receiver gets the same message again.
    await delivery.getByRole('button', { name: /Retry/ }).click();
    await expect.poll(() => r.received.length, SHOWN).toBe(2);
    expect(new Set(r.ids()).size).toBe(1);

    // Edit its events; disable it.
    await row.getByRole('button', { name: 'Edit' }).click();
    await page.getByRole('checkbox', { name: 'All events' }).uncheck();
    await page.getByRole('checkbox', { name: /Image deleted/ }).check();
    await page.getByRole('button', { name: 'Save' }).click();
    await row.locator('td', { hasText: 'image.deleted' }).waitFor(SHOWN);
    await row.getByRole('button', { name: 'Disable' }).click();
    await page.locator('[data-testid="webhook-row"][data-enabled="false"]').waitFor(SHOWN);
    expect((await user.json('GET', '/v1/webhooks')).body.items[0]).toMatchObject({ events: ['image.deleted'], enabled: false, description: 'Shop' });

    expect(await reviewView(page, 'webhooks')).toBe('');
    expect(problems).toEqual([]);
  }, 60_000);
});
