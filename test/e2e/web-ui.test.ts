import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { Browser, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, tempDir, type ApiClient, type TestServer } from '../helpers/server.js';
import { dropFiles, launchBrowser, openPage, reviewView, throttleUploads, type WatchedPage } from './helpers/browser.js';
import { bigTiff, cameraJpeg, fixtureCopy } from './helpers/files.js';

let t: TestServer;
let user: ApiClient;
let browser: Browser;
let session: WatchedPage;
const dir = tempDir('darkroom-e2e-files-');
const files: Record<'photo' | 'png' | 'scan', string> = { photo: '', png: '', scan: '' };

beforeAll(async () => {
  [t, browser] = await Promise.all([startTestServer(), launchBrowser()]);
  user = await t.client('user', 'acme');
  files.photo = await cameraJpeg(dir, 'meadow.jpg');
  files.png = fixtureCopy(dir, 'imaginary-test.png', 'planet.png');
  files.scan = await bigTiff(dir, 'husky-scan.tif');
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('the web UI', () => {
  it('shows the sign-in form, refuses a wrong key with a message, and signs in with the right one', async () => {
    const { page, context, problems } = await openPage(browser);
    await page.goto(t.url);
    await expect.poll(() => page.getByLabel('API key').isVisible()).toBe(true);
    expect(await reviewView(page, 'login')).toBe('');

    await page.getByLabel('API key').fill('drk_not_a_real_key');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('not valid');
    await page.getByLabel('API key').fill(user.key!);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('dropzone').waitFor();
    expect(problems).toEqual([]);
    await context.close();
  });

  it('signs in with a #key= link, takes the key out of the address, and keeps it for the session', async () => {
    session = await openPage(browser);
    const { page, problems } = session;
    await page.goto(`${t.url}/#key=${user.key}`);
    await page.getByTestId('dropzone').waitFor();
    expect(page.url()).toBe(`${t.url}/`);
    expect(await page.evaluate(() => window.sessionStorage.getItem('darkroom.key'))).toBe(user.key);
    // A reload keeps the session; the login form does not come back.
    await page.reload();
    await page.getByTestId('dropzone').waitFor();
    expect(await page.getByLabel('API key').count()).toBe(0);
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link').allTextContents()).toEqual(['Library', 'Webhooks']);
    expect(await reviewView(page, 'library-empty')).toBe('');
    expect(problems).toEqual([]);
  });

  it('uploads three dropped images, one over 100 MB, through tus, and shows each card turn done live', async () => {
    const { page, problems } = session;
    const uploads: Request[] = [];
    page.on('request', (req) => {
      if (req.url().includes('/v1/uploads')) uploads.push(req);
    });
    // Marks this document: a reload would lose it, so its survival shows nothing was reloaded.
    await page.evaluate(() => ((window as unknown as { sameDocument: boolean }).sameDocument = true));
    // Slow enough that the big upload is seen in progress, fast enough for a quick test.
    await throttleUploads(page, 80 * 1024 * 1024);

    await dropFiles(page, '[data-testid=dropzone]', [files.photo, files.png, files.scan]);
    const items = page.getByTestId('upload-item');
    await expect.poll(() => items.count()).toBe(3);
    const scanItem = items.filter({ hasText: 'husky-scan.tif' });
    await expect.poll(() => scanItem.getAttribute('data-state'), { timeout: 30_000 }).toBe('uploading');
    await expect.poll(async () => Number(await scanItem.getByRole('progressbar').getAttribute('aria-valuenow')), { timeout: 30_000 }).toBeGreaterThan(20);
    expect(await reviewView(page, 'uploading')).toBe('');

    for (const name of ['meadow.jpg', 'planet.png', 'husky-scan.tif']) {
      const item = items.filter({ hasText: name });
      await expect.poll(() => item.getAttribute('data-state'), { timeout: 120_000 }).toBe('done');
      expect(await item.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('100');
    }

    // Each file went through tus: one creation each, declaring its real size, then its parts.
    const creations = uploads.filter((r) => r.method() === 'POST');
    expect(creations.map((r) => Number(r.headers()['upload-length'])).sort((a, b) => a - b)).toEqual(
      [files.png, files.photo, files.scan].map((f) => fs.statSync(f).size).sort((a, b) => a - b),
    );
    const scanSize = fs.statSync(files.scan).size;
    expect(scanSize).toBeGreaterThan(100 * 1024 * 1024);
    const parts = uploads.filter((r) => r.method() === 'PATCH');
    expect(parts.length).toBeGreaterThanOrEqual(3);

    // The cards turn done as the server's events arrive, without a reload.
    const listed = await user.json('GET', '/v1/images?limit=10');
    expect(listed.body.items).toHaveLength(3);
    for (const image of listed.body.items) {
      const card = page.locator(`[data-testid=image-card][data-image-id="${image.id}"]`);
      await expect.poll(() => card.getAttribute('data-status'), { timeout: 120_000 }).toBe('done');
    }
    expect(await page.evaluate(() => (window as unknown as { sameDocument?: boolean }).sameDocument)).toBe(true);
    expect((await user.json('GET', '/v1/images?limit=10')).body.items.map((i: any) => i.status)).toEqual(['done', 'done', 'done']);
    await throttleUploads(page, null);
    await page.waitForTimeout(500);
    expect(await reviewView(page, 'library')).toBe('');
    expect(problems).toEqual([]);
  });

  it('shows an image with its variants and metadata, and downloads the display variant as a real WebP', async () => {
    const { page, problems } = session;
    await page.getByTestId('image-card').filter({ hasText: 'meadow.jpg' }).click();
    await page.getByRole('heading', { name: 'meadow.jpg' }).waitFor();
    const text = () => page.locator('main').textContent();
    await expect.poll(text).toContain('Canon EOS R5');
    const shown = (await text())!;
    for (const expected of ['RF50mm F1.8 STM', '1/250 s · f/2.8 · ISO 400 · 50 mm', '48.85820° N, 2.29450° E', 'sRGB', 'thumb', 'display', 'original', '1600 × 900']) {
      expect(shown).toContain(expected);
    }
    await page.getByRole('img', { name: 'Preview of meadow.jpg' }).waitFor();

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download display' }).click()]);
    expect(download.suggestedFilename()).toBe('meadow-display.webp');
    const saved = path.join(dir, 'downloaded.webp');
    await download.saveAs(saved);
    const bytes = fs.readFileSync(saved);
    expect(bytes.subarray(0, 4).toString('ascii')).toBe('RIFF');
    expect(bytes.subarray(8, 12).toString('ascii')).toBe('WEBP');
    const meta = await sharp(bytes).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['webp', 1600, 900]);

    // Done with the uploads: their list closes, as a user would close it, and the detail is seen whole.
    await page.getByRole('button', { name: 'Close the upload list' }).click();
    await expect.poll(() => page.getByRole('complementary', { name: 'Uploads' }).count()).toBe(0);
    expect(await reviewView(page, 'image-detail', { fullPage: true })).toBe('');
    expect(problems).toEqual([]);
  });

  it('reprocesses an image and follows it back to done, then deletes it', async () => {
    const { page, problems } = session;
    const id = page.url().split('/').pop()!;
    await page.getByRole('button', { name: 'Reprocess' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('Reprocessing');
    await expect.poll(async () => (await user.json('GET', `/v1/image/${id}`)).body.status, { timeout: 30_000 }).toBe('done');
    await expect.poll(() => page.locator('.detail-title .badge').textContent(), { timeout: 30_000 }).toBe('Done');

    await page.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete this image?' });
    await dialog.waitFor();
    expect(await reviewView(page, 'delete-dialog')).toBe('');
    await dialog.getByRole('button', { name: 'Delete image' }).click();
    await page.getByTestId('dropzone').waitFor();
    await expect.poll(() => page.locator(`[data-testid=image-card][data-image-id="${id}"]`).count()).toBe(0);
    expect((await user.json('GET', `/v1/image/${id}`)).status).toBe(404);
    expect(problems).toEqual([]);
  });

  it('can be used with the keyboard alone: skip link, filters, cards', async () => {
    const { page } = session;
    await page.goto(`${t.url}/`);
    await page.getByTestId('image-card').first().waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Skip to content');
    await page.keyboard.press('Enter');
    // Tab on until the "Done" filter, press it, and land in a filtered list.
    for (let i = 0; i < 20; i++) {
      await page.keyboard.press('Tab');
      if ((await page.evaluate(() => document.activeElement?.textContent)) === 'Done') break;
    }
    await page.keyboard.press('Enter');
    await expect.poll(() => page.url()).toContain('?status=done');
    await page.getByTestId('image-card').first().waitFor();
    // Past the last filter, the next stop is the first card.
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Failed');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('image-card');
    await page.keyboard.press('Enter');
    await page.getByRole('link', { name: 'Library' }).first().waitFor();
    expect(page.url()).toMatch(/\/images\/[0-9a-f-]{36}$/);
  });
});
