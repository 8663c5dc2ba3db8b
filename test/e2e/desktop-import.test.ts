import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Page, Request, Route } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { dropFiles, launchBrowser, openPage, reviewView } from './helpers/browser.js';
import { installFakeDesktopBridge, type FakeBridgeOptions } from './helpers/desktop.js';
import { bigTiff, cameraJpeg, fixtureCopy, textFile } from './helpers/files.js';

/**
 * The web UI inside the desktop app: files dropped on the window or chosen in the picker are
 * imported by path (POST /v1/image/import), so the server reads them from disk instead of
 * receiving their bytes. The page gets the preload's bridge from a stand-in that answers with
 * the real paths of real files; the server is a real one on loopback, with an admin key, as the
 * desktop engine is, so every import really happens.
 */
let t: TestServer;
let browser: Browser;
const photos = tempDir('darkroom-e2e-desktop-');
const elsewhere = tempDir('darkroom-e2e-elsewhere-');
const files = { photo: '', png: '', scan: '', notes: '', gone: '', drawn: '' };

beforeAll(async () => {
  [t, browser] = await Promise.all([startTestServer(), launchBrowser()]);
  files.photo = await cameraJpeg(photos, 'meadow.jpg');
  files.png = fixtureCopy(photos, 'imaginary-test.png', 'planet.png');
  files.scan = await bigTiff(photos, 'husky-scan.tif', 4000, 3000);
  files.notes = textFile(photos, 'notes.jpg');
  // Not in the folder the bridge answers for: its path leads nowhere, like a file moved away after the drop.
  files.gone = fixtureCopy(elsewhere, 'imaginary-test.png', 'moved-away.png');
  files.drawn = fixtureCopy(photos, 'imaginary-test.webp', 'drawn-in-page.webp');
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
  for (const d of [photos, elsewhere]) fs.rmSync(d, { recursive: true, force: true });
});

/** A signed-in admin page in the desktop app, recording what it sends to the server. */
async function desktopPage(bridge: Partial<FakeBridgeOptions> = {}, key = t.admin.key) {
  const watched = await openPage(browser);
  await installFakeDesktopBridge(watched.context, { folder: photos, ...bridge });
  const sent: Request[] = [];
  watched.page.on('request', (req) => {
    if (/\/v1\/(uploads|image\/import)/.test(req.url())) sent.push(req);
  });
  await watched.page.goto(`${t.url}/#key=${key}`);
  await watched.page.getByTestId('dropzone').waitFor();
  return { ...watched, sent };
}

const item = (page: Page, name: string) => page.getByTestId('upload-item').filter({ hasText: name });
const imports = (sent: Request[]) => sent.filter((r) => r.url().endsWith('/v1/image/import')).map((r) => r.postDataJSON() as { paths: string[] });
const uploads = (sent: Request[]) => sent.filter((r) => r.url().includes('/v1/uploads'));

function sourceOf(filename: string): string[] {
  const rows = t.server.parts.db.prepare('SELECT source FROM images WHERE filename = ?').all(filename) as Array<{ source: string }>;
  return rows.map((r) => r.source);
}

async function expectCardDone(page: Page, filename: string) {
  const listed = await t.admin.json('GET', '/v1/images?limit=100');
  const image = listed.body.items.find((i: { filename: string }) => i.filename === filename);
  expect(image, `${filename} is in the library`).toBeDefined();
  const card = page.locator(`[data-testid=image-card][data-image-id="${image.id}"]`);
  await expect.poll(() => card.getAttribute('data-status'), { timeout: 60_000 }).toBe('done');
}

describe('the desktop app', () => {
  it('imports dropped files by path: "Importing…", then done, and the cards turn done; no byte goes through HTTP', async () => {
    const { page, context, problems, sent } = await desktopPage();
    // The imports are held back until the page has been looked at mid-way, then go to the server as sent.
    const held: Route[] = [];
    await page.route('**/v1/image/import', (route) => void held.push(route));

    await dropFiles(page, '[data-testid=dropzone]', [files.photo, files.png, files.scan]);
    for (const name of ['meadow.jpg', 'planet.png', 'husky-scan.tif']) {
      await expect.poll(() => item(page, name).getAttribute('data-state'), { timeout: 10_000 }).toBe('uploading');
      expect(await item(page, name).textContent()).toContain('Importing…');
      const bar = item(page, name).getByRole('progressbar');
      expect(await bar.getAttribute('aria-valuetext')).toBe('Importing');
      expect(await bar.getAttribute('aria-valuenow')).toBe('0');
      // An import cannot be stopped half-way, so it offers no cancel button.
      expect(await item(page, name).getByRole('button', { name: /Cancel/ }).count()).toBe(0);
    }
    await expect.poll(() => held.length, { timeout: 10_000 }).toBe(3);
    expect(await page.getByRole('complementary', { name: 'Uploads' }).textContent()).toContain('Importing 3 files');
    expect(await reviewView(page, 'importing')).toBe('');

    for (const route of held) await route.continue();
    await page.unroute('**/v1/image/import');
    for (const name of ['meadow.jpg', 'planet.png', 'husky-scan.tif']) {
      await expect.poll(() => item(page, name).getAttribute('data-state'), { timeout: 60_000 }).toBe('done');
      expect(await item(page, name).getByRole('progressbar').getAttribute('aria-valuenow')).toBe('100');
      expect(await item(page, name).textContent()).toContain('Imported');
      await expectCardDone(page, name);
      expect(sourceOf(name)).toEqual(['import']);
    }
    expect(await page.getByRole('complementary', { name: 'Uploads' }).textContent()).toContain('3 imports complete');

    // One request per file, each naming the file where it is; nothing through tus.
    expect(imports(sent).map((body) => body.paths).sort()).toEqual([[files.scan], [files.photo], [files.png]]);
    expect(uploads(sent)).toEqual([]);
    // The originals stay where they were.
    for (const file of [files.photo, files.png, files.scan]) expect(fs.existsSync(file)).toBe(true);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('imports files chosen in the picker by path too', async () => {
    const { page, context, problems, sent } = await desktopPage();
    const again = fixtureCopy(photos, 'imaginary-test.webp', 'picked.webp');
    await page.getByTestId('dropzone').locator('input[type=file]').setInputFiles([again]);
    await expect.poll(() => item(page, 'picked.webp').getAttribute('data-state'), { timeout: 30_000 }).toBe('done');
    await expectCardDone(page, 'picked.webp');
    expect(imports(sent)).toEqual([{ paths: [again] }]);
    expect(uploads(sent)).toEqual([]);
    expect(sourceOf('picked.webp')).toEqual(['import']);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('says why an import was refused, file by file: not an image (415), a path that leads nowhere (400)', async () => {
    const { page, context, problems } = await desktopPage();
    await dropFiles(page, '[data-testid=dropzone]', [files.notes, files.gone]);
    await expect.poll(() => item(page, 'notes.jpg').getAttribute('data-state'), { timeout: 30_000 }).toBe('error');
    await expect.poll(() => item(page, 'moved-away.png').getAttribute('data-state'), { timeout: 30_000 }).toBe('error');
    const notes = (await item(page, 'notes.jpg').textContent()) ?? '';
    expect(notes).toContain('Not an image Darkroom can read');
    expect(notes).toContain('whatever its name says');
    const gone = (await item(page, 'moved-away.png').textContent()) ?? '';
    expect(gone).toContain('Cannot import');
    expect(gone).toContain(`${photos}/moved-away.png`);
    expect(gone).toContain('does not exist');
    expect(await page.getByRole('complementary', { name: 'Uploads' }).textContent()).toContain('2 imports failed');
    expect(sourceOf('notes.jpg')).toEqual([]);
    expect(sourceOf('moved-away.png')).toEqual([]);
    expect(await reviewView(page, 'import-refused')).toBe('');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('uploads the whole set through tus when one of its files has no path, also when dropped outside the drop zone', async () => {
    const { page, context, problems, sent } = await desktopPage({ withoutPath: ['drawn-in-page.webp'] });
    const mixed = fixtureCopy(photos, 'imaginary-test.png', 'with-path.png');
    await dropFiles(page, 'main', [mixed, files.drawn]);
    for (const name of ['with-path.png', 'drawn-in-page.webp']) {
      await expect.poll(() => item(page, name).getAttribute('data-state'), { timeout: 30_000 }).toBe('done');
      expect(await item(page, name).textContent()).toContain('Uploaded');
      await expectCardDone(page, name);
      expect(sourceOf(name)).toEqual(['tus']);
    }
    expect(imports(sent)).toEqual([]);
    expect(uploads(sent).filter((r) => r.method() === 'POST')).toHaveLength(2);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('uploads when the window is signed in with a key that may not import (not an admin key)', async () => {
    const user = await t.client('user', 'acme');
    const { page, context, problems, sent } = await desktopPage({}, user.key);
    const file = fixtureCopy(photos, 'imaginary-test.png', 'by-user.png');
    await dropFiles(page, '[data-testid=dropzone]', [file]);
    await expect.poll(() => item(page, 'by-user.png').getAttribute('data-state'), { timeout: 30_000 }).toBe('done');
    expect(imports(sent)).toEqual([]);
    expect(uploads(sent).filter((r) => r.method() === 'POST')).toHaveLength(1);
    expect(sourceOf('by-user.png')).toEqual(['tus']);
    expect(problems).toEqual([]);
    await context.close();
  });
});
