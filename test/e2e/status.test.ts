import fs from 'node:fs';
import path from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { solid } from '../helpers/images.js';
import { lanAddress } from '../helpers/network.js';
import { eventually } from '../helpers/eventually.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';
import { launchBrowser, openPage, reviewView } from './helpers/browser.js';
import { installFakeDesktopBridge } from './helpers/desktop.js';
import { textFile } from './helpers/files.js';

/**
 * The admin's status page, watch folders part: real folders on disk watched by a real server.
 * The server listens on every interface, so the same page can also be opened from this
 * machine's LAN address, where changing watch folders is refused.
 */
let t: TestServer;
let browser: Browser;
/** The server as seen from this machine, over loopback. */
let local: string;
const flagged = tempDir('darkroom-e2e-watched-');
const added = tempDir('darkroom-e2e-added-');
const chosen = tempDir('darkroom-e2e-chosen-');

// Short waits so files are taken quickly; the logic is the one of the defaults.
const WATCH_TIMING = { stabilityMs: 300, pollIntervalMs: 100, retryMs: 300 };

/** The page polls every few seconds: give each change a few rounds to show. */
const SHOWN = { timeout: 15_000 };

interface FolderStatus {
  id: string;
  path: string;
  counts: { ingested: number; rejected: number; pending: number };
}

beforeAll(async () => {
  // Already in the --watch folder when the server starts: two images and something that is not one.
  fs.writeFileSync(path.join(flagged, 'harbour.jpg'), await solid(640, 480, 'jpeg', '#336699'));
  fs.mkdirSync(path.join(flagged, 'day 2'));
  fs.writeFileSync(path.join(flagged, 'day 2', 'dunes.png'), await solid(320, 240, 'png', '#cc9944'));
  textFile(flagged, 'shopping.jpg');
  [t, browser] = await Promise.all([
    startTestServer({ config: { host: '0.0.0.0', watch: [flagged] }, start: { watchTiming: WATCH_TIMING } }),
    launchBrowser(),
  ]);
  local = `http://127.0.0.1:${t.server.port}`;
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
  for (const d of [flagged, added, chosen]) fs.rmSync(d, { recursive: true, force: true });
});

async function folders(): Promise<FolderStatus[]> {
  return (await t.admin.json('GET', '/v1/watch')).body.items;
}

async function folderOf(dir: string): Promise<FolderStatus | undefined> {
  return (await folders()).find((f) => f.path === dir);
}

async function statusPage(options: { base?: string; desktop?: Parameters<typeof installFakeDesktopBridge>[1] } = {}) {
  const watched = await openPage(browser);
  if (options.desktop) await installFakeDesktopBridge(watched.context, options.desktop);
  await watched.page.goto(`${options.base ?? local}/#key=${t.admin.key}`);
  await watched.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Status' }).click();
  await watched.page.getByRole('heading', { name: 'Status', level: 1 }).waitFor();
  return watched;
}

const rowOf = (page: Page, id: string) => page.locator(`tr[data-watch-id="${id}"]`);

/** A folder row's cells after the folder: state, mode, ingested, rejected, pending, last image. */
async function cells(row: Locator): Promise<string[]> {
  return (await row.locator('td').allTextContents()).slice(0, 6).map((s) => s.trim());
}

describe('the status page: watch folders', () => {
  it('lists the watched folders with their state, mode and counts; S3 sync shows as not enabled', async () => {
    const flag = await eventually(async () => {
      const f = await folderOf(flagged);
      return f && f.counts.ingested === 2 && f.counts.rejected === 1 && f.counts.pending === 0 ? f : undefined;
    }, 30_000, 'the --watch folder took its files');
    const { page, problems, context } = await statusPage();

    const row = rowOf(page, flag.id);
    await expect.poll(() => row.textContent(), SHOWN).toContain('Watching');
    expect(await row.getByRole('rowheader').textContent()).toBe(`${flagged}Set by --watch at start-up`);
    const [state, mode, ingested, rejected, pending, last] = await cells(row);
    expect(state).toBe('Watching');
    expect(mode).toBe('File events');
    expect([ingested, rejected, pending]).toEqual(['2', '1', '0']);
    expect(last).toMatch(/ago|now/);
    // A --watch folder is configuration: it cannot be removed here.
    expect(await row.getByRole('button').count()).toBe(0);

    const sync = page.getByRole('region', { name: /S3 sync/ });
    expect(await sync.getByTestId('sync-state').textContent()).toBe('Off');
    expect(await sync.textContent()).toContain('S3 sync is not enabled');
    expect(await reviewView(page, 'status', { fullPage: true })).toBe('');
    // On a phone each folder stacks into a card of its own.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await reviewView(page, 'status-phone', { fullPage: true })).toBe('');
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBe(390);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('adds a folder by path, with clear errors for paths it cannot watch, follows its counts, and removes it', async () => {
    const { page, problems, context } = await statusPage();
    await page.getByRole('button', { name: 'Add folder' }).click();
    const dialog = page.getByRole('dialog', { name: 'Watch a folder' });
    const field = dialog.getByLabel('Folder', { exact: true });
    const error = dialog.getByRole('alert');

    await field.fill('Pictures/incoming');
    await dialog.getByRole('button', { name: 'Watch folder' }).click();
    await expect.poll(() => error.textContent(), SHOWN).toBe('"Pictures/incoming" is not an absolute path.');
    expect(await field.getAttribute('aria-invalid')).toBe('true');
    await field.fill(t.dataDir);
    await dialog.getByRole('button', { name: 'Watch folder' }).click();
    await expect.poll(() => error.textContent(), SHOWN).toContain("is inside Darkroom's own data folder");
    await field.fill(path.join(added, 'missing'));
    await dialog.getByRole('button', { name: 'Watch folder' }).click();
    await expect.poll(() => error.textContent(), SHOWN).toContain('does not exist');
    expect(await reviewView(page, 'watch-add')).toBe('');
    expect(await folderOf(path.join(added, 'missing'))).toBeUndefined();

    // A real folder, polled (as for a network share).
    await field.fill(added);
    await dialog.getByRole('checkbox', { name: /polling/ }).check();
    await dialog.getByRole('button', { name: 'Watch folder' }).click();
    await expect.poll(() => dialog.isVisible(), SHOWN).toBe(false);
    const folder = await eventually(() => folderOf(added), 10_000, 'the folder is watched');
    const row = rowOf(page, folder.id);
    await expect.poll(() => row.textContent(), SHOWN).toContain('Added in settings');
    await expect.poll(async () => (await cells(row)).slice(0, 2), SHOWN).toEqual(['Watching', 'PollingAsked for in settings.']);
    expect((await cells(row)).slice(2)).toEqual(['0', '0', '0', 'None yet']);

    // An image saved into it shows up in its counts, without a reload.
    fs.writeFileSync(path.join(added, 'new.jpg'), await solid(200, 100, 'jpeg', '#aa3355'));
    await expect.poll(async () => (await cells(row))[2], { timeout: 20_000 }).toBe('1');
    expect((await cells(row))[5]).toMatch(/ago|now/);

    await row.getByRole('button', { name: `Stop watching ${added}` }).click();
    const confirm = page.getByRole('dialog', { name: 'Stop watching this folder?' });
    expect(await confirm.textContent()).toContain(added);
    await confirm.getByRole('button', { name: 'Stop watching' }).click();
    await expect.poll(() => row.count(), SHOWN).toBe(0);
    expect(await folderOf(added)).toBeUndefined();
    // What it brought in stays in the library.
    const images = (await t.admin.json('GET', '/v1/images?limit=100')).body.items.map((i: { filename: string }) => i.filename);
    expect(images).toContain('new.jpg');
    expect(problems).toEqual([]);
    await context.close();
  });

  it('in the desktop app, adds the folder chosen in the system dialog', async () => {
    const { page, problems, context } = await statusPage({ desktop: { folder: chosen, chosenFolders: [chosen] } });
    await page.getByRole('button', { name: 'Add folder…' }).click();
    const folder = await eventually(() => folderOf(chosen), 10_000, 'the chosen folder is watched');
    await expect.poll(async () => (await cells(rowOf(page, folder.id))).slice(0, 2), SHOWN).toEqual(['Watching', 'File events']);

    // Cancelling the dialog changes nothing.
    const before = (await folders()).length;
    await page.getByRole('button', { name: 'Add folder…' }).click();
    await expect.poll(() => page.evaluate(() => window.darkroomDesktopCalls.filter((c: string) => c === 'chooseFolder').length), SHOWN).toBe(2);
    await expect.poll(() => page.getByRole('button', { name: 'Add folder…' }).isEnabled(), SHOWN).toBe(true);
    expect((await folders()).length).toBe(before);
    expect(await page.getByRole('alert').count()).toBe(0);

    await page.getByRole('button', { name: 'Open data folder' }).click();
    await expect.poll(() => page.evaluate(() => window.darkroomDesktopCalls.includes('openDataFolder')), SHOWN).toBe(true);
    expect(problems).toEqual([]);
    await context.close();
  });

  it('opened from another machine, shows the folders and says why they cannot be changed from there', async () => {
    const lan = `http://${lanAddress()}:${t.server.port}`;
    const { page, problems, context } = await statusPage({ base: lan });
    const flag = (await folderOf(flagged))!;
    await expect.poll(async () => (await cells(rowOf(page, flag.id)))[0], SHOWN).toBe('Watching');
    expect(await page.getByRole('region', { name: 'Watch folders' }).textContent()).toContain('can be added and removed only on the machine Darkroom runs on');

    await page.getByRole('button', { name: 'Add folder' }).click();
    const dialog = page.getByRole('dialog', { name: 'Watch a folder' });
    await dialog.getByLabel('Folder', { exact: true }).fill(added);
    await dialog.getByRole('button', { name: 'Watch folder' }).click();
    await expect.poll(() => dialog.getByRole('alert').textContent(), SHOWN).toContain('Watch folders can be changed only on the machine Darkroom runs on');
    expect(await folderOf(added)).toBeUndefined();
    expect(problems).toEqual([]);
    await context.close();
  });

  it('is not shown to user and business keys, and its address says it is not for them', async () => {
    for (const role of ['user', 'business'] as const) {
      const client = await t.client(role, 'acme');
      const { page, problems, context } = await openPage(browser);
      await page.goto(`${local}/#key=${client.key}`);
      const nav = page.getByRole('navigation', { name: 'Main' });
      await nav.waitFor();
      await expect.poll(() => nav.getByRole('link').count(), SHOWN).toBeGreaterThan(0);
      expect(await nav.getByRole('link', { name: 'Status' }).count()).toBe(0);
      await page.goto(`${local}/status`);
      await page.getByRole('heading', { name: 'Not available with this key' }).waitFor();
      expect(await page.getByRole('main').textContent()).toContain('shown to admin keys');
      expect(await page.getByRole('heading', { name: 'Watch folders' }).count()).toBe(0);
      expect((await client.json('GET', '/v1/watch')).status).toBe(403);
      expect(problems).toEqual([]);
      await context.close();
    }
  });
});

describe('the status page: nodes', () => {
  it('lists this node as up, and marks a node that stopped answering', async () => {
    // The folders the tests above added are removed first: this page's review is of the nodes.
    for (const folder of (await t.admin.json('GET', '/v1/watch')).body.items as Array<{ id: string; source: string }>) {
      if (folder.source === 'settings') expect((await t.admin.json('DELETE', `/v1/watch/${folder.id}`)).status).toBe(204);
    }
    const { page, problems, context } = await statusPage();
    const nodes = page.getByRole('region', { name: 'Nodes' });
    const self = nodes.locator(`tr[data-node-id="${t.server.parts.config.nodeId}"]`);
    await expect.poll(() => self.getAttribute('data-state'), SHOWN).toBe('up');
    expect(await self.getByRole('rowheader').textContent()).toBe(`${t.server.parts.config.nodeId}This node (answering now)`);
    const version = (JSON.parse(fs.readFileSync(path.join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string }).version;
    expect((await self.locator('td').allTextContents()).map((s) => s.trim()).slice(0, 3)).toEqual(['Up', version, '0']);
    expect(await nodes.getByTestId('nodes-unreachable').count()).toBe(0);

    // Another node of the cluster writes its heartbeat, then nothing more (killed, cut off):
    // after three missed heartbeats it is marked as no longer answering.
    const registry = t.server.parts.database.repos.nodes;
    await registry.register({ id: 'node-b.example', version: '0.1.0', at: Date.now() - 120_000 });
    await registry.heartbeat('node-b.example', Date.now() - 60_000, 2);
    const gone = nodes.locator('tr[data-node-id="node-b.example"]');
    await expect.poll(() => gone.getAttribute('data-state'), SHOWN).toBe('unreachable');
    expect(await gone.locator('td').first().textContent()).toBe('Not answering');
    expect(await gone.locator('td').nth(4).textContent()).toBe('1 minute ago');
    expect(await nodes.getByTestId('nodes-unreachable').textContent()).toBe('A node has stopped answering.');
    expect(await reviewView(page, 'status-nodes', { fullPage: true })).toBe('');
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBe(390);
    expect(problems).toEqual([]);
    await context.close();
  });
});
