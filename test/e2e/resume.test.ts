import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Request } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, tempDir, type ApiClient, type TestServer } from '../helpers/server.js';
import { dropFiles, launchBrowser, openPage, reviewView, screenshot, throttleUploads, uploadProgress } from './helpers/browser.js';
import { bigTiff, sha256File } from './helpers/files.js';

let t: TestServer;
let user: ApiClient;
let browser: Browser;
const dir = tempDir('darkroom-e2e-resume-');

beforeAll(async () => {
  [t, browser] = await Promise.all([startTestServer(), launchBrowser()]);
  user = await t.client('user', 'acme');
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

/** The tus requests a page makes, in order, with the time they were sent. */
function recordUploads(page: import('playwright-core').Page) {
  const sent: Array<{ at: number; method: string; url: string; offset: number | undefined; req: Request }> = [];
  page.on('request', (req) => {
    if (!req.url().includes('/v1/uploads')) return;
    const offset = req.headers()['upload-offset'];
    sent.push({ at: Date.now(), method: req.method(), url: req.url(), offset: offset === undefined ? undefined : Number(offset), req });
  });
  return sent;
}

/**
 * Signs in as the user, drops `file` with uploads held to 24 MB/s, and returns once its upload
 * has passed 30%: the page, its console problems and the recorded upload requests.
 */
async function dropSlowlyUntil30Percent(file: string) {
  const { page, problems } = await openPage(browser);
  const sent = recordUploads(page);
  await page.goto(`${t.url}/#key=${user.key}`);
  await page.getByTestId('dropzone').waitFor();
  await throttleUploads(page, 24 * 1024 * 1024);
  await dropFiles(page, '[data-testid=dropzone]', [file]);
  await expect.poll(() => uploadProgress(page, path.basename(file)), { timeout: 60_000 }).toBeGreaterThanOrEqual(30);
  return { page, problems, sent };
}

describe('resumable uploads in the browser', () => {
  it('continues an upload cut off by a server restart where the bytes stopped, not from zero', async () => {
    const file = await bigTiff(dir, 'archive-scan.tif');
    const size = fs.statSync(file).size;
    const { page, problems, sent } = await dropSlowlyUntil30Percent(file);

    // The server goes away mid-upload (its connections are cut) and comes back on the same port.
    const { port } = t.server;
    const dataDir = t.dataDir;
    await t.close();
    const uploadId = sent.find((s) => s.method === 'PATCH')!.url.split('/').pop()!;
    await new Promise((r) => setTimeout(r, 300));
    const bytesAtCut = fs.statSync(path.join(dataDir, 'uploads', uploadId)).size;
    expect(bytesAtCut).toBeGreaterThan(0.2 * size);
    expect(bytesAtCut).toBeLessThan(size);

    const item = page.getByTestId('upload-item').filter({ hasText: 'archive-scan.tif' });
    await expect.poll(() => item.textContent(), { timeout: 20_000 }).toContain('reconnecting');
    expect(await item.getAttribute('data-state')).toBe('uploading');
    await screenshot(page, 'upload-reconnecting-light');

    const restartedAt = Date.now();
    t = await startTestServer({ dataDir, config: { port: String(port) } });
    await expect.poll(() => item.getAttribute('data-state'), { timeout: 120_000 }).toBe('done');

    // One upload, created once; after the restart it went on from the bytes the server had.
    expect(sent.filter((s) => s.method === 'POST')).toHaveLength(1);
    const afterRestart = sent.filter((s) => s.at >= restartedAt && s.method === 'PATCH');
    expect(afterRestart.length).toBeGreaterThan(0);
    expect(afterRestart[0]!.offset).toBeGreaterThanOrEqual(bytesAtCut);
    expect(sent.filter((s) => s.method === 'PATCH' && s.offset === 0)).toHaveLength(1);
    expect(await item.textContent()).toContain('continued from');

    const list = await user.json('GET', '/v1/images?limit=5');
    const image = list.body.items.find((i: any) => i.filename === 'archive-scan.tif');
    expect([image.bytes, image.sha256]).toEqual([size, sha256File(file)]);
    expect(problems.filter((p) => !/ERR_CONNECTION|net::/.test(p))).toEqual([]);
    await page.context().close();
  });

  it('continues after the page was reloaded mid-upload, when the same file is added again', async () => {
    const file = await bigTiff(dir, 'second-scan.tif', 7000, 5000);
    const size = fs.statSync(file).size;
    const { page, problems, sent } = await dropSlowlyUntil30Percent(file);

    await page.reload();
    const reloadedAt = Date.now();
    // The page remembers the unfinished upload and says how to continue it.
    const interrupted = page.getByRole('region', { name: 'Interrupted uploads' });
    await expect.poll(() => interrupted.textContent(), { timeout: 20_000 }).toContain('second-scan.tif');
    expect(await interrupted.textContent()).toMatch(/\d+% of/);
    expect(await reviewView(page, 'upload-interrupted')).toBe('');

    await throttleUploads(page, null);
    await dropFiles(page, '[data-testid=dropzone]', [file]);
    const item = page.getByTestId('upload-item').filter({ hasText: 'second-scan.tif' });
    await expect.poll(() => item.getAttribute('data-state'), { timeout: 120_000 }).toBe('done');
    expect(await interrupted.count()).toBe(0);

    expect(sent.filter((s) => s.method === 'POST')).toHaveLength(1);
    const resumed = sent.filter((s) => s.at >= reloadedAt && s.method === 'PATCH');
    expect(resumed[0]!.offset).toBeGreaterThan(0.2 * size);
    const list = await user.json('GET', '/v1/images?limit=5');
    const image = list.body.items.find((i: any) => i.filename === 'second-scan.tif');
    expect([image.bytes, image.sha256]).toEqual([size, sha256File(file)]);
    expect(problems).toEqual([]);
    await page.context().close();
  });
});
