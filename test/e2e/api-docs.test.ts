import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../../server/api/index.js';
import { fixture } from '../helpers/images.js';
import { ADMIN_KEY, startTestServer, type TestServer } from '../helpers/server.js';
import { launchBrowser, openPage, screenshot } from './helpers/browser.js';

let t: TestServer;
let browser: Browser;

beforeAll(async () => {
  [t, browser] = await Promise.all([startTestServer(), launchBrowser()]);
  const upload = await t.admin.upload([{ name: 'a.png', data: fixture('imaginary-test.png') }]);
  await t.admin.waitFor(upload.body.id);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
});

describe('GET /docs, the API reference', () => {
  it('renders every operation from the server alone, under its CSP, and tries one out with a key', async () => {
    const { page, context, problems } = await openPage(browser);
    const origin = new URL(t.url).origin;
    const elsewhere: string[] = [];
    // Anything asked of another origin is refused and noted: the page must work offline.
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${origin}/`) || url.startsWith('data:')) return route.continue();
      elsewhere.push(url);
      return route.abort();
    });

    await page.goto(`${t.url}/docs`);
    await page.locator('.opblock').first().waitFor({ timeout: 20_000 });
    // Every route of the table, and every webhook message the document describes (`webhooks`).
    const webhooks = Object.keys((await t.admin.json('GET', '/v1/openapi.json')).body.webhooks);
    expect(webhooks).toHaveLength(5);
    expect(await page.locator('.opblock').count()).toBe(ROUTES.length + webhooks.length);
    await expect(page.locator('.info .title').textContent()).resolves.toContain('Darkroom');
    await screenshot(page, 'api-reference-light');

    await page.locator('button.authorize').first().click();
    await page.locator('.auth-container input').first().fill(ADMIN_KEY);
    await page.locator('.auth-container button.authorize').first().click();
    await page.locator('button.btn-done, .close-modal').first().click();

    const listImages = page.locator('#operations-images-listImages');
    await listImages.locator('.opblock-summary').click();
    await listImages.locator('button.try-out__btn').click();
    await listImages.locator('button.execute').click();
    const status = listImages.locator('.live-responses-table tr.response td.response-col_status').first();
    await status.waitFor({ timeout: 20_000 });
    expect((await status.textContent())?.trim()).toBe('200');
    await expect(listImages.locator('.live-responses-table .microlight, .live-responses-table pre').first().textContent()).resolves.toContain('"nextCursor"');

    await screenshot(page, 'api-reference-try-light');
    expect(elsewhere).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('is served under the web UI\'s Content-Security-Policy', async () => {
    const res = await fetch(`${t.url}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.headers.get('content-security-policy')).toContain("connect-src 'self'");
  });
});
