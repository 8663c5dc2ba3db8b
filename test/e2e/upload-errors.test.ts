import fs from 'node:fs';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, pngBomb } from '../helpers/images.js';
import { listFiles, startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { dropFiles, launchBrowser, openPage, reviewView } from './helpers/browser.js';
import { fixtureCopy, textFile } from './helpers/files.js';

let browser: Browser;
const servers: TestServer[] = [];
const dir = tempDir('darkroom-e2e-errors-');

beforeAll(async () => {
  browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  for (const s of servers) await s.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function server(config: Record<string, string>) {
  const s = await startTestServer({ config });
  servers.push(s);
  return s;
}

async function signedIn(s: TestServer) {
  const watched = await openPage(browser);
  await watched.page.goto(`${s.url}/#key=${s.admin.key}`);
  await watched.page.getByTestId('dropzone').waitFor();
  return watched;
}

const item = (page: import('playwright-core').Page, name: string) => page.getByTestId('upload-item').filter({ hasText: name });

describe('variants the server would refuse', () => {
  it('are flagged in the variants dialog before any upload, from the caps the server gives', async () => {
    const s = await server({});
    const { page, problems } = await signedIn(s);
    await page.getByRole('button', { name: /Variants to make/ }).click();
    const dialog = page.getByRole('dialog', { name: 'Variants for new uploads' });
    await dialog.getByText('Custom', { exact: true }).click();
    const save = dialog.getByRole('button', { name: 'Use these variants' });
    await expect.poll(() => save.isEnabled()).toBe(true);

    await dialog.getByLabel('Variant 1 width in pixels').fill('9000');
    await dialog.getByText('Sizes: 1 to 8192 px').waitFor();
    expect(await save.isEnabled()).toBe(false);
    // Within the sides, over the AVIF encoder's pixel cap.
    await dialog.getByLabel('Variant 1 width in pixels').fill('5000');
    await dialog.getByLabel('Variant 1 height in pixels').fill('4000');
    await dialog.getByLabel('Variant 1 format').selectOption('avif');
    await dialog.getByText('AVIF: at most 12 megapixels').waitFor();
    expect(await save.isEnabled()).toBe(false);
    // JPEG may be that large.
    await dialog.getByLabel('Variant 1 format').selectOption('jpeg');
    await expect.poll(() => save.isEnabled()).toBe(true);
    expect(problems).toEqual([]);
  });
});

describe('uploads the server refuses', () => {
  it('says why for each refusal (415, 413, 422, an empty file) and leaves nothing behind', async () => {
    const s = await server({ maxUploadBytes: '2MB' });
    const { page, problems } = await signedIn(s);
    const notes = textFile(dir, 'notes.jpg');
    const huge = path.join(dir, 'huge.jpg');
    fs.writeFileSync(huge, Buffer.concat([fixture('ipx-husky-snow.jpg'), Buffer.alloc(3_000_000)]));
    const bomb = path.join(dir, 'bomb.png');
    fs.writeFileSync(bomb, pngBomb());
    const empty = path.join(dir, 'empty.jpg');
    fs.writeFileSync(empty, '');

    await dropFiles(page, '[data-testid=dropzone]', [notes, huge, bomb, empty]);
    const expected: Record<string, string[]> = {
      'notes.jpg': ['Not an image Darkroom can read', 'whatever its name says'],
      'huge.jpg': ['File too large', 'accepts files up to 2.0 MB'],
      'bomb.png': ['Too many pixels', '60000 × 60000 pixels', 'at most 1,000,000,000 pixels'],
      'empty.jpg': ['Upload refused', 'empty'],
    };
    for (const [name, texts] of Object.entries(expected)) {
      await expect.poll(() => item(page, name).getAttribute('data-state'), { timeout: 30_000 }).toBe('error');
      const text = (await item(page, name).textContent()) ?? '';
      for (const t of texts) expect(text).toContain(t);
      // Sending the same bytes again cannot work: no retry button, only remove.
      expect(await item(page, name).getByRole('button', { name: /Retry/ }).count()).toBe(0);
    }
    expect(await reviewView(page, 'upload-errors')).toBe('');

    expect((await s.admin.json('GET', '/v1/images')).body.items).toEqual([]);
    expect(listFiles(path.join(s.dataDir, 'uploads'))).toEqual([]);
    expect(listFiles(path.join(s.dataDir, 'originals'))).toEqual([]);
    expect(problems).toEqual([]);
    await page.context().close();
  });

  it('says when the server disk is full (507), and offers to retry', async () => {
    const s = await server({ minFreeBytes: '1000TB' });
    const { page } = await signedIn(s);
    await dropFiles(page, '[data-testid=dropzone]', [fixtureCopy(dir, 'imaginary-medium.jpg', 'field.jpg')]);
    await expect.poll(() => item(page, 'field.jpg').getAttribute('data-state'), { timeout: 30_000 }).toBe('error');
    expect(await item(page, 'field.jpg').textContent()).toContain('Server disk full');
    expect(await item(page, 'field.jpg').getByRole('button', { name: 'Retry the upload of field.jpg' }).count()).toBe(1);
    await page.context().close();
  });

  it('waits and tries again by itself when the queue is full (429), and can be cancelled', async () => {
    const s = await server({ maxQueuedJobs: '2' });
    await s.server.parts.runner.stop(0); // nothing is processed, so the queue stays full
    expect((await s.admin.upload([{ name: 'first.jpg', data: fixture('imaginary-medium.jpg') }])).status).toBe(202);
    const { page } = await signedIn(s);
    await dropFiles(page, '[data-testid=dropzone]', [fixtureCopy(dir, 'imaginary-test.png', 'waiting.png')]);
    const waiting = item(page, 'waiting.png');
    await expect.poll(() => waiting.textContent(), { timeout: 30_000 }).toMatch(/Server busy — trying again in \d+ s/);
    expect(await waiting.getAttribute('data-state')).toBe('queued');
    await waiting.getByRole('button', { name: 'Cancel the upload of waiting.png' }).click();
    await expect.poll(() => waiting.getAttribute('data-state')).toBe('error');
    expect(await waiting.textContent()).toContain('Cancelled');
    await page.context().close();
  });
});
