import fs from 'node:fs';
import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, tempDir, type ApiClient, type TestServer } from '../helpers/server.js';
import { launchBrowser, openPage, reviewView } from './helpers/browser.js';
import { cameraJpeg } from './helpers/files.js';

/**
 * The "Share link" panel of the image view and the Presets page, in Chromium against a real
 * server: a link made in the UI, copied, and loaded in a browser that has no key; its `<img
 * srcset>` picking 1× or 2× by the screen; a preset made on the Presets page, chosen in the panel
 * and rendered through a link.
 */
let t: TestServer;
let browser: Browser;
let user: ApiClient;
let admin: ApiClient;
let userImage: string;
let adminImage: string;
const dir = tempDir('darkroom-e2e-share-');
const SHOWN = { timeout: 15_000 };
const DAY = 86_400_000;

beforeAll(async () => {
  [t, browser] = await Promise.all([startTestServer(), launchBrowser()]);
  [user, admin] = await Promise.all([t.client('user', 'acme'), t.client('admin', 'acme-admin')]);
  // A 1600×900 photo, as a camera writes it.
  const photo = { name: 'meadow.jpg', data: fs.readFileSync(await cameraJpeg(dir)) };
  userImage = (await user.upload([photo])).body.id;
  adminImage = (await admin.upload([photo])).body.id;
  await Promise.all([user.waitFor(userImage), admin.waitFor(adminImage)]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function signedInAt(key: string, path: string) {
  const watched = await openPage(browser);
  await watched.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: t.url });
  await watched.page.goto(`${t.url}${path}#key=${key}`);
  await watched.page.getByRole('navigation', { name: 'Main' }).waitFor();
  return watched;
}

const clipboard = (page: Page) => page.evaluate(() => navigator.clipboard.readText());

/** Loads a URL in a new browser context: no key, no session, no cookies; the answer and its bytes. */
async function loadWithoutKey(url: string) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const response = (await page.goto(url))!;
    const body = await response.body();
    // Chromium shows an image URL as a document holding that image: it decoded it.
    const shown = await page.evaluate(() => {
      const img = document.images[0];
      return img ? { width: img.naturalWidth, height: img.naturalHeight } : null;
    });
    return { status: response.status(), headers: response.headers(), meta: await sharp(body).metadata(), shown };
  } finally {
    await context.close();
  }
}

/** Puts an HTML snippet in an empty page at a device pixel ratio: which image it loaded, and its size. */
async function loadSnippet(snippet: string, deviceScaleFactor: number) {
  const context = await browser.newContext({ deviceScaleFactor });
  try {
    const page = await context.newPage();
    await page.setContent(`<!doctype html><body>${snippet}</body>`);
    await page.waitForFunction(() => document.images[0]?.complete && document.images[0].naturalWidth > 0, null, SHOWN);
    // Awaited here: the context closes in `finally`.
    return await page.evaluate(() => {
      const img = document.images[0]!;
      return { src: img.currentSrc, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight, width: img.width, height: img.height };
    });
  } finally {
    await context.close();
  }
}

describe('the Share link panel', () => {
  it('makes a link in the image view that a browser without a key loads, and an <img srcset> that picks 1× or 2×', async () => {
    const { page, problems } = await signedInAt(user.key!, `/images/${userImage}`);
    const panel = page.getByTestId('share-panel');
    await panel.waitFor();
    // Closed until asked for: opening an image renders nothing more.
    expect(await panel.getByTestId('share-source').count()).toBe(0);
    await panel.getByRole('button', { name: 'Make a link' }).click();

    // A user key cannot list presets: it names one by hand, and a wrong name is the API's refusal.
    await panel.getByTestId('share-source').getByRole('button', { name: 'Preset' }).click();
    await panel.getByLabel('Preset name').fill('no-such-preset');
    await expect.poll(() => panel.getByTestId('share-preview-error').textContent(), SHOWN).toContain('no preset "no-such-preset"');
    await panel.getByTestId('share-source').getByRole('button', { name: 'Size' }).click();

    // Over the output cap: the preview and the link are both refused with the API's message.
    await panel.getByLabel('Width').fill('9000');
    await expect.poll(() => panel.getByTestId('share-preview-error').textContent(), SHOWN).toContain('a whole number from 1 to 8192');
    await panel.getByRole('button', { name: 'Create link' }).click();
    await expect.poll(() => panel.getByTestId('share-error').textContent(), SHOWN).toContain('a whole number from 1 to 8192');
    expect(await panel.getByTestId('share-result').count()).toBe(0);

    // 480 wide, WebP, for 30 days: the preview is that render, fetched with the key.
    await panel.getByLabel('Width').fill('480');
    await panel.getByTestId('share-format').getByRole('button', { name: 'WebP' }).click();
    await panel.getByTestId('share-lifetime').getByRole('button', { name: '30 days' }).click();
    await expect.poll(() => panel.getByTestId('share-preview-info').textContent(), SHOWN).toMatch(/^480 × 270 · WebP · /);
    expect(await panel.getByTestId('share-preview').getAttribute('src')).toMatch(/^blob:/);

    await panel.getByRole('button', { name: 'Create link' }).click();
    const linkText = panel.getByTestId('share-link-url');
    await linkText.waitFor(SHOWN);
    await panel.getByRole('button', { name: 'Copy link' }).click();
    await expect.poll(() => clipboard(page)).toMatch(/^http:/);
    const url = await clipboard(page);
    expect(url).toBe((await linkText.textContent())!.trim());
    const link = new URL(url);
    expect(link.origin + link.pathname).toBe(`${t.url}/v1/image/${userImage}/render`);
    expect(Object.fromEntries(link.searchParams)).toMatchObject({ w: '480', format: 'webp' });
    expect(link.searchParams.has('dpr')).toBe(false);
    const expires = Number(link.searchParams.get('expires')) * 1000;
    expect(Math.abs(expires - (Date.now() + 30 * DAY))).toBeLessThan(5 * 60_000);

    // A fresh browser, no key: the link is the image, WebP 480×270, public for caches.
    const loaded = await loadWithoutKey(url);
    expect(loaded.status).toBe(200);
    expect(loaded.headers['content-type']).toBe('image/webp');
    expect(loaded.headers['cache-control']).toMatch(/^public, max-age=\d+/);
    expect([loaded.meta.format, loaded.meta.width, loaded.meta.height]).toEqual(['webp', 480, 270]);
    expect(loaded.shown).toEqual({ width: 480, height: 270 });
    // Changed, it is refused.
    expect((await fetch(url.replace('w=480', 'w=481'))).status).toBe(403);

    // The <img> snippet: 1× and 2× links; a page on a 2× screen loads the 2× one, 960 pixels wide, shown at 480.
    await panel.getByRole('button', { name: 'Copy <img>' }).click();
    await expect.poll(() => clipboard(page)).toMatch(/^<img /);
    const snippet = await clipboard(page);
    expect(snippet).toBe((await panel.getByTestId('share-link-srcset').textContent())!.trim());
    expect(snippet).toMatch(/^<img src="[^"]+" srcset="[^"]+ 1x, [^"]+ 2x" width="480" height="270" alt="">$/);
    // (naturalWidth is in CSS pixels, the 2× image's halved: its own pixels are read from its bytes.)
    const pixels = async (src: string) => sharp(Buffer.from(await (await fetch(src)).arrayBuffer())).metadata();
    const onRetina = await loadSnippet(snippet, 2);
    expect(onRetina.src).toContain('dpr=2');
    expect(onRetina).toMatchObject({ naturalWidth: 480, naturalHeight: 270, width: 480, height: 270 });
    const retinaPixels = await pixels(onRetina.src);
    expect([retinaPixels.width, retinaPixels.height]).toEqual([960, 540]);
    const onPlain = await loadSnippet(snippet, 1);
    expect(onPlain.src).toBe(url);
    expect(onPlain).toMatchObject({ naturalWidth: 480, naturalHeight: 270 });

    // Another setting hides the link made for the last one.
    await panel.getByTestId('share-format').getByRole('button', { name: 'Auto' }).click();
    await expect.poll(() => panel.getByTestId('share-result').count()).toBe(0);
    await panel.getByTestId('share-format').getByRole('button', { name: 'WebP' }).click();
    await linkText.waitFor(SHOWN);

    expect(await reviewView(page, 'share-link', { fullPage: true })).toBe('');

    // 5000 wide: the 1× link is the original's 1600 (never enlarged), a 2× would be 10000 pixels
    // wide, over the cap: the panel says so and the <img> has the 1× link alone.
    await panel.getByLabel('Width').fill('5000');
    await panel.getByRole('button', { name: 'Create link' }).click();
    await expect.poll(() => panel.getByTestId('share-result').textContent(), SHOWN).toContain('No 2× link: params: w: 5000 × dpr 2 = 10000 pixels is over the limit of 8192 pixels a side');
    // (width and height join the <img> once the preview of this size has loaded.)
    const srcset = async () => (await panel.getByTestId('share-link-srcset').textContent())!.trim();
    await expect.poll(srcset, SHOWN).toMatch(/^<img src="[^"]+w=5000[^"]+" width="1600" height="900" alt="">$/);
    const single = await srcset();
    expect((await loadSnippet(single, 2)).naturalWidth).toBe(1600);

    expect(problems).toEqual([]);
    await page.context().close();
  }, 90_000);
});

describe('the Presets page', () => {
  it('creates, edits and deletes presets; one made there is chosen in the share panel and renders through a link', async () => {
    const { page, problems } = await signedInAt(admin.key!, '/');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Presets' }).click();
    await page.getByRole('heading', { name: 'Presets' }).waitFor();
    await page.getByText('No presets yet.').waitFor();

    // A name the API refuses: its message, and nothing made.
    await page.getByRole('button', { name: 'Create preset' }).click();
    let dialog = page.getByRole('dialog', { name: 'Create a preset' });
    await dialog.getByLabel('Name').fill('Card Large');
    await dialog.getByRole('button', { name: 'Create preset' }).click();
    await expect.poll(() => dialog.getByTestId('preset-error').textContent(), SHOWN).toContain('lower-case letters, digits or "-"');

    await dialog.getByLabel('Name').fill('card');
    await dialog.getByLabel('Width').fill('320');
    await dialog.getByLabel('Height').fill('200');
    await dialog.getByLabel('Fit').selectOption('cover');
    await dialog.getByLabel('Position').selectOption('attention');
    await dialog.getByLabel('Format').selectOption('jpeg');
    await dialog.getByLabel('Quality').fill('70');
    expect(await reviewView(page, 'preset-create')).toBe('');
    await dialog.getByRole('button', { name: 'Create preset' }).click();
    const row = page.locator('[data-testid=preset-row][data-preset-name=card]');
    await row.waitFor(SHOWN);
    expect((await row.locator('td').allTextContents()).slice(0, 5)).toEqual(['320 × 200', 'Crop to fill', 'Attention (what draws the eye)', 'JPEG', '70']);

    // Edit: the quality changes, the name stays.
    await row.getByRole('button', { name: 'Edit card' }).click();
    dialog = page.getByRole('dialog', { name: 'Edit preset card' });
    expect(await dialog.getByLabel('Name').getAttribute('readonly')).not.toBeNull();
    await dialog.getByLabel('Quality').fill('60');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await row.locator('td.num', { hasText: '60' }).waitFor(SHOWN);
    expect((await admin.json('GET', '/v1/presets')).body.items).toMatchObject([{ name: 'card', w: 320, h: 200, fit: 'cover', position: 'attention', format: 'jpeg', q: 60 }]);

    // A second one, deleted again.
    await page.getByRole('button', { name: 'Create preset' }).click();
    dialog = page.getByRole('dialog', { name: 'Create a preset' });
    await dialog.getByLabel('Name').fill('card');
    await expect.poll(() => dialog.getByTestId('preset-error').textContent()).toContain('A preset named card exists');
    await dialog.getByLabel('Name').fill('banner');
    await dialog.getByLabel('Width').fill('1200');
    await dialog.getByRole('button', { name: 'Create preset' }).click();
    const banner = page.locator('[data-testid=preset-row][data-preset-name=banner]');
    await banner.waitFor(SHOWN);
    expect(await reviewView(page, 'presets')).toBe('');
    await banner.getByRole('button', { name: 'Delete banner' }).click();
    await page.getByRole('dialog', { name: 'Delete this preset?' }).getByRole('button', { name: 'Delete preset' }).click();
    await expect.poll(() => banner.count(), SHOWN).toBe(0);
    expect((await admin.json('GET', '/v1/presets')).body.items.map((p: { name: string }) => p.name)).toEqual(['card']);

    // In the image view: the preset is offered, its render previewed, and a link made with it.
    await page.goto(`${t.url}/images/${adminImage}`);
    const panel = page.getByTestId('share-panel');
    await panel.getByRole('button', { name: 'Make a link' }).click();
    await panel.getByTestId('share-source').getByRole('button', { name: 'Preset' }).click();
    const picker = panel.getByTestId('share-preset');
    expect(await picker.inputValue()).toBe('card');
    expect(await picker.locator('option').allTextContents()).toEqual(['card — 320 × 200 · Crop to fill · Attention (what draws the eye) · JPEG · q 60']);
    expect(await panel.getByTestId('share-format').getByRole('button', { name: "Preset's" }).getAttribute('aria-pressed')).toBe('true');
    await expect.poll(() => panel.getByTestId('share-preview-info').textContent(), SHOWN).toMatch(/^320 × 200 · JPEG · /);

    await panel.getByRole('button', { name: 'Create link' }).click();
    const url = (await panel.getByTestId('share-link-url').textContent({ timeout: SHOWN.timeout }))!.trim();
    const link = new URL(url);
    // The preset is resolved when the link is made: the link carries its parameters.
    expect(Object.fromEntries(link.searchParams)).toMatchObject({ w: '320', h: '200', fit: 'cover', position: 'attention', format: 'jpeg', q: '60' });
    const loaded = await loadWithoutKey(url);
    expect(loaded.status).toBe(200);
    expect(loaded.headers['content-type']).toBe('image/jpeg');
    expect([loaded.meta.format, loaded.meta.width, loaded.meta.height]).toEqual(['jpeg', 320, 200]);

    expect(problems).toEqual([]);
    await page.context().close();
  }, 90_000);

  it('is not offered to a user key, and its address says it is for admin keys', async () => {
    const { page, problems } = await signedInAt(user.key!, '/presets');
    await page.getByRole('heading', { name: 'Not available with this key' }).waitFor();
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Presets' }).count()).toBe(0);
    expect(problems).toEqual([]);
    await page.context().close();
  });
});
