import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { _electron as electron, type ElectronApplication } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/child.js';
import { jpegWithExif } from '../helpers/images.js';
import { tempDir } from '../helpers/server.js';
import { dropFiles } from './helpers/browser.js';

/**
 * The real desktop window, driven by Playwright: a file dropped from the OS is imported by
 * path and shows up processed. Needs the Electron binary, which npm installs lazily (and which
 * cannot be downloaded everywhere): without it this test is skipped and says so.
 */
function electronBinary(): { file?: string; missing?: string } {
  const dir = path.join(ROOT, 'node_modules/electron');
  const pathFile = path.join(dir, 'path.txt');
  const file = fs.existsSync(pathFile) ? path.join(dir, 'dist', fs.readFileSync(pathFile, 'utf8').trim()) : undefined;
  if (!file || !fs.existsSync(file)) {
    return { missing: 'the Electron binary is not installed (node_modules/electron/dist); `node node_modules/electron/install.js` downloads it' };
  }
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) {
    return { file, missing: 'the Electron binary needs a display (DISPLAY is not set; run under xvfb-run)' };
  }
  return { file };
}

const binary = electronBinary();
if (binary.missing) console.warn(`desktop window test skipped: ${binary.missing}`);

const dirs: string[] = [];
let app: ElectronApplication | undefined;
afterAll(async () => {
  await app?.close().catch(() => {});
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe.skipIf(!!binary.missing)(`desktop window${binary.missing ? ` (skipped: ${binary.missing})` : ''}`, () => {
  it('imports a file dropped from the OS by path and shows it processed, in a locked-down window', async () => {
    const userData = tempDir('darkroom-e2e-user-');
    const dataDir = tempDir('darkroom-e2e-data-');
    const photos = tempDir('darkroom-e2e-photos-');
    dirs.push(userData, dataDir, photos);
    const photo = path.join(photos, 'dropped.jpg');
    fs.writeFileSync(photo, await jpegWithExif());

    app = await electron.launch({
      executablePath: binary.file!,
      args: [
        path.join(ROOT, 'dist/electron/main.js'),
        `--user-data-dir=${userData}`,
        '--data-dir',
        dataDir,
        // Chromium's own sandbox refuses to run as root (CI containers); the renderer sandbox stays on.
        ...(process.getuid?.() === 0 ? ['--no-sandbox'] : []),
      ],
      env: { ...process.env, DARKROOM_NODE: process.execPath },
      timeout: 60_000,
    });
    const page = await app.firstWindow();
    await page.waitForSelector('[data-testid=dropzone]', { timeout: 30_000 });

    // Logged in as the local admin, and the key is gone from the address.
    expect(page.url()).not.toContain('#key=');
    // The page has the bridge, and nothing of Node. (In-page code is given as text: the test
    // itself is compiled for Node, without the browser's types.)
    expect(await page.evaluate('typeof window.darkroomDesktop?.pathForFile')).toBe('function');
    expect(await page.evaluate('typeof require')).toBe('undefined');
    expect(await page.evaluate('typeof process')).toBe('undefined');

    // A drop from the file manager: File objects backed by files on disk, in a drop event.
    await dropFiles(page, '[data-testid=dropzone]', [photo]);
    await page.waitForSelector('[data-testid=image-card][data-status=done]', { timeout: 60_000 });

    // Navigation away and new windows are refused.
    const before = page.url();
    await page.evaluate(`window.open('http://example.com/'); location.href = 'file:///etc/passwd';`);
    await page.waitForTimeout(500);
    expect(page.url()).toBe(before);
    expect(app.windows()).toHaveLength(1);

    await app.close();
    app = undefined;
    // Imported by path (the bytes never went through HTTP), and the original is where it was.
    const db = new Database(path.join(dataDir, 'darkroom.db'), { readonly: true });
    const rows = db.prepare('SELECT filename, source, status FROM images').all();
    db.close();
    expect(rows).toEqual([{ filename: 'dropped.jpg', source: 'import', status: 'done' }]);
    expect(fs.existsSync(photo)).toBe(true);
  });
});
