import fs from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, jpegWithExif, solid } from '../helpers/images.js';
import { ApiClient, startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { launchBrowser, openPage, reviewView } from './helpers/browser.js';

let t: TestServer;
let browser: Browser;
let acme: ApiClient;
let business: ApiClient;
const dir = tempDir('darkroom-e2e-roles-');

beforeAll(async () => {
  [t, browser] = await Promise.all([startTestServer(), launchBrowser()]);
  acme = await t.client('user', 'acme');
  const globex = await t.client('user', 'globex');
  business = await t.client('business', 'acme');
  // Something to count: a few uploads of different formats by two customers.
  const uploads = [
    await acme.upload([{ name: 'a.jpg', data: await jpegWithExif() }]),
    await acme.upload([{ name: 'b.png', data: fixture('imaginary-test.png') }]),
    await globex.upload([{ name: 'c.webp', data: fixture('imaginary-test.webp') }]),
    await globex.upload([{ name: 'd.gif', data: await solid(64, 48, 'gif') }]),
  ];
  for (const u of uploads) await t.admin.waitFor(u.body.id);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The range the statistics view shows by default: the last 30 UTC days, today included. */
function last30Days() {
  const today = new Date();
  const to = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate()));
  const from = new Date(to.getTime() - 29 * 86_400_000);
  return { from: from.toISOString().slice(0, 10), to: to.toISOString().slice(0, 10) };
}

async function signIn(key: string, options: { permissions?: string[] } = {}) {
  const watched = await openPage(browser);
  if (options.permissions) await watched.context.grantPermissions(options.permissions, { origin: t.url });
  await watched.page.goto(`${t.url}/#key=${key}`);
  await watched.page.getByRole('navigation', { name: 'Main' }).waitFor();
  return watched;
}

describe('what each role sees', () => {
  it('a user key sees no statistics or keys link, and the statistics page says it is not for this key', async () => {
    const { page, problems } = await signIn(acme.key!);
    await page.getByTestId('dropzone').waitFor();
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link').allTextContents()).toEqual(['Library', 'Webhooks']);
    expect(await page.getByRole('link', { name: 'Statistics' }).count()).toBe(0);
    await page.goto(`${t.url}/stats`);
    await page.getByRole('heading', { name: 'Not available with this key' }).waitFor();
    expect(await page.getByTestId('stats-total-uploaded').count()).toBe(0);
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('a user key gets 403 from the statistics API', async () => {
    const res = await acme.json('GET', '/v1/stats');
    expect(res.status).toBe(403);
    expect(res.body.error.code).toBe('forbidden');
    expect((await acme.request('GET', '/v1/stats.csv')).status).toBe(403);
  });

  it('a business key lands on the statistics, and their numbers match the API', async () => {
    const { page, problems } = await signIn(business.key!);
    await page.waitForURL(`${t.url}/stats`);
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents()).toEqual(['Statistics']);
    const { from, to } = last30Days();
    const api = await business.json('GET', `/v1/stats?from=${from}&to=${to}&groupBy=day,format`);
    expect(api.status).toBe(200);
    expect(api.body.totals.uploaded).toBeGreaterThanOrEqual(4);
    await expect.poll(() => page.getByTestId('stats-total-uploaded').textContent()).toBe(String(api.body.totals.uploaded));
    expect(await page.getByTestId('stats-total-processed').textContent()).toBe(String(api.body.totals.processed));
    const table = page.getByRole('region', { name: 'By customer' });
    await expect.poll(() => table.textContent()).toContain('globex');
    expect(await table.textContent()).toContain('acme');

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export CSV' }).click()]);
    const csv = fs.readFileSync(await download.path(), 'utf8');
    expect(csv.split('\n')[0]).toMatch(/customer/);
    expect(await reviewView(page, 'statistics', { fullPage: true })).toBe('');
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('an admin creates a key, shown once with a copy button, that works at once; and revokes it', async () => {
    const { page, problems } = await signIn(t.admin.key!, { permissions: ['clipboard-read', 'clipboard-write'] });
    await page.getByRole('link', { name: 'Keys' }).click();
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    await expect.poll(() => page.getByRole('row').count()).toBeGreaterThan(3);
    expect(await reviewView(page, 'keys')).toBe('');

    await page.getByRole('button', { name: 'Create key' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create an API key' });
    await dialog.getByLabel('Customer', { exact: true }).fill('initech');
    await dialog.getByRole('radio', { name: /Business/ }).check();
    await dialog.getByLabel(/Name/).fill('Reporting');
    expect(await reviewView(page, 'key-create')).toBe('');
    await dialog.getByRole('button', { name: 'Create key' }).click();

    const created = page.getByRole('dialog', { name: 'Key created' });
    const key = (await created.getByTestId('created-key').textContent())!;
    expect(key).toMatch(/^drk_/);
    expect(await reviewView(page, 'key-created')).toBe('');
    await created.getByRole('button', { name: 'Copy key' }).click();
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe(key);

    const me = await new ApiClient(t.url, key).json('GET', '/v1/me');
    expect(me.body).toMatchObject({ customer: 'initech', role: 'business' });
    await created.getByRole('button', { name: 'Done' }).click();

    const row = page.getByRole('row', { name: /Reporting/ });
    await row.waitFor();
    await row.getByRole('button', { name: 'Revoke Reporting' }).click();
    await page.getByRole('dialog', { name: 'Revoke this key?' }).getByRole('button', { name: 'Revoke key' }).click();
    await expect.poll(() => row.count()).toBe(0);
    expect((await new ApiClient(t.url, key).json('GET', '/v1/me')).status).toBe(401);
    expect(problems).toEqual([]);
    await page.context().close();
  });
});
