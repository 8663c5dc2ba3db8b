import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heifEnc, needsHeifEnc } from '../helpers/heic.js';
import { cameraExif, FIXTURES } from '../helpers/images.js';
import { previewJpeg, rawWithPreview, testExifTool } from '../helpers/raw.js';
import { startTestServer, tempDir, type ApiClient, type TestServer } from '../helpers/server.js';
import { launchBrowser, openPage, reviewView, type WatchedPage } from './helpers/browser.js';

/**
 * An iPhone photo (HEIC) and a camera RAW in the web UI, as a photographer sees them: a card
 * with its thumbnail, the detail with its preview and camera panel, and the original downloaded
 * under its own name, byte for byte.
 */
let t: TestServer;
let user: ApiClient;
let browser: Browser;
let session: WatchedPage;
const dir = tempDir('darkroom-e2e-camera-');
const exiftool = testExifTool();
const originals: Record<string, Buffer> = {};

beforeAll(async () => {
  [t, browser] = await Promise.all([startTestServer(), launchBrowser()]);
  user = await t.client('user', 'acme');
  const photo = await sharp(path.join(FIXTURES, 'ipx-bliss.jpg')).resize(1600, 900).jpeg({ quality: 90 }).withExif({ ...cameraExif('iPhone 15 Pro'), IFD0: { Make: 'Apple', Model: 'iPhone 15 Pro' } }).toBuffer();
  if (!needsHeifEnc) originals['IMG_0042.HEIC'] = heifEnc(photo, 'jpg');
  originals['studio.dng'] = await rawWithPreview(exiftool, dir, { fixture: 'DNG.dng', tag: 'PreviewImage', orientation: 1, preview: await previewJpeg(1, 1200, 800) });
  for (const [name, data] of Object.entries(originals)) {
    const uploaded = await user.upload([{ name, data }]);
    expect(uploaded.status, JSON.stringify(uploaded.body)).toBe(202);
    expect((await user.waitFor(uploaded.body.id)).status).toBe('done');
  }
  session = await openPage(browser);
  await session.page.goto(`${t.url}/#key=${user.key}`);
  await session.page.getByTestId('dropzone').waitFor();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
  await exiftool.end();
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('camera formats in the web UI', () => {
  it.for([
    { name: 'IMG_0042.HEIC', camera: 'iPhone 15 Pro', format: 'HEIF', shown: ['HEIF · image/heif'], skip: needsHeifEnc },
    { name: 'studio.dng', camera: 'Canon EOS 350D DIGITAL', format: 'RAW', shown: ['RAW · DNG · image/x-adobe-dng', 'its embedded preview · 1200 × 800'], skip: '' },
  ])('shows $name like any image: thumbnail, preview, camera panel, and its original under its own name$skip', async ({ name, camera, format, shown, skip }, ctx) => {
    // Without heif-enc there is no HEIC to show: skipped, and its name says why.
    if (skip) return ctx.skip();
    const { page, problems } = session;
    const card = page.getByTestId('image-card').filter({ hasText: name });
    await card.waitFor();
    // The card's thumbnail is a real decoded image, not a broken one.
    await expect.poll(() => card.locator('img').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBeGreaterThan(0);
    await card.click();
    await page.getByRole('heading', { name }).waitFor();
    const preview = page.getByRole('img', { name: `Preview of ${name}` });
    await preview.waitFor();
    await expect.poll(() => preview.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBeGreaterThan(0);
    await expect.poll(() => page.locator('main').textContent()).toContain(camera);
    const text = (await page.locator('main').textContent())!;
    for (const expected of shown) expect(text).toContain(expected);

    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download original' }).click()]);
    expect(download.suggestedFilename()).toBe(name);
    const saved = path.join(dir, `downloaded-${name}`);
    await download.saveAs(saved);
    expect(fs.readFileSync(saved).equals(originals[name]!)).toBe(true);
    expect(await reviewView(page, `image-detail-${format.toLowerCase()}`, { fullPage: true })).toBe('');
    expect(problems).toEqual([]);
    await page.goBack();
  });
});
