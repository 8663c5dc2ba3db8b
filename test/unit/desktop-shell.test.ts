import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseEngineMessage } from '../../electron/engine-messages.js';
import { CHANNELS, IpcInputError, expectNoArgs } from '../../electron/ipc-contract.js';
import { batchNotice, progressView } from '../../electron/progress.js';
import {
  SECURE_WEB_PREFERENCES,
  appOriginOf,
  contentSecurityPolicy,
  isAllowedNavigation,
  isAllowedRequest,
  isPermissionAllowed,
  isSafeExternalUrl,
  isTrustedSender,
  withContentSecurityPolicy,
} from '../../electron/security.js';
import { placeWindow, parseWindowState, readWindowState, writeWindowState } from '../../electron/window-state.js';
import { serverOptionsFromArgs } from '../../server/desktop/args.js';
import { ROOT } from '../helpers/child.js';
import { tempDir } from '../helpers/server.js';

const APP = 'http://127.0.0.1:53127';

describe('desktop security rules', () => {
  it('runs every window isolated and sandboxed, without Node', () => {
    expect(SECURE_WEB_PREFERENCES).toMatchObject({
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      navigateOnDragDrop: false,
    });
    expect(Object.isFrozen(SECURE_WEB_PREFERENCES)).toBe(true);
  });

  it('accepts only a loopback http engine address as the app origin', () => {
    expect(appOriginOf('http://127.0.0.1:53127')).toBe(APP);
    expect(appOriginOf('http://[::1]:8080/')).toBe('http://[::1]:8080');
    for (const url of ['http://0.0.0.0:1', 'http://192.168.1.2:7410', 'https://127.0.0.1:1', 'http://localhost:1', 'file:///x', 'nonsense']) {
      expect(appOriginOf(url), url).toBeUndefined();
    }
  });

  it('has a strict CSP: scripts only from the app, no inline script, no plugins, no framing', () => {
    const csp = contentSecurityPolicy();
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/script-src[^;]*'unsafe-(inline|eval)'/);
    expect(csp).toContain("object-src 'none'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("base-uri 'none'");
    const headers = withContentSecurityPolicy({ 'content-security-policy': ["default-src 'none'; sandbox"], 'x-a': ['1'] });
    expect(headers['Content-Security-Policy']).toEqual([csp]);
    expect(headers['content-security-policy']).toEqual(["default-src 'none'; sandbox"]); // the server's own stays
    expect(withContentSecurityPolicy(undefined)).toEqual({ 'Content-Security-Policy': [csp] });
  });

  it('lets the window navigate and fetch only within the app origin', () => {
    expect(isAllowedNavigation(`${APP}/library?x=1#key=abc`, APP)).toBe(true);
    for (const url of ['http://127.0.0.1:53128/', 'https://example.com/', 'file:///etc/passwd', 'javascript:alert(1)', 'data:text/html,hi', '']) {
      expect(isAllowedNavigation(url, APP), url).toBe(false);
    }
    expect(isAllowedRequest(`${APP}/v1/images`, APP)).toBe(true);
    expect(isAllowedRequest('devtools://devtools/bundled/inspector.html', APP)).toBe(true);
    expect(isAllowedRequest('blob:http://127.0.0.1:53127/uuid', APP)).toBe(true);
    for (const url of ['https://fonts.googleapis.com/css', 'http://127.0.0.1:7410/v1/images', 'http://192.168.1.1/', 'file:///home/me/photo.jpg', 'ws://127.0.0.1:53127/']) {
      expect(isAllowedRequest(url, APP), url).toBe(false);
    }
  });

  it('opens only https and mailto links outside the app', () => {
    for (const url of ['https://example.com/docs', 'https://example.com:8443/a?b#c', 'mailto:someone@example.com']) {
      expect(isSafeExternalUrl(url), url).toBe(true);
    }
    for (const url of [
      'http://example.com/',
      'file:///C:/Windows/System32/calc.exe',
      'smb://server/share',
      'ms-msdt:/id PCWDiagnostic',
      'javascript:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      'https://user:pass@example.com/',
      'https://',
      'mailto:a b@example.com',
      `https://example.com/${'a'.repeat(3000)}`,
      42,
      undefined,
    ]) {
      expect(isSafeExternalUrl(url), String(url)).toBe(false);
    }
  });

  it('denies permissions by default; the two harmless ones only to the app origin', () => {
    for (const permission of ['media', 'geolocation', 'notifications', 'midiSysex', 'openExternal', 'clipboard-read', 'hid', 'usb', 'unknown']) {
      expect(isPermissionAllowed(permission, `${APP}/`, APP), permission).toBe(false);
    }
    expect(isPermissionAllowed('clipboard-sanitized-write', `${APP}/`, APP)).toBe(true);
    expect(isPermissionAllowed('fullscreen', `${APP}/x`, APP)).toBe(true);
    expect(isPermissionAllowed('fullscreen', 'https://example.com/', APP)).toBe(false);
    expect(isPermissionAllowed('fullscreen', undefined, APP)).toBe(false);
  });

  it('trusts IPC only from the main frame of the app origin', () => {
    expect(isTrustedSender({ url: `${APP}/library`, isMainFrame: true }, APP)).toBe(true);
    expect(isTrustedSender({ url: `${APP}/library`, isMainFrame: false }, APP)).toBe(false);
    expect(isTrustedSender({ url: 'https://example.com/', isMainFrame: true }, APP)).toBe(false);
    expect(isTrustedSender({ url: 'file:///tmp/evil.html', isMainFrame: true }, APP)).toBe(false);
    expect(isTrustedSender(null, APP)).toBe(false);
  });
});

describe('IPC inputs', () => {
  it('refuses arguments on channels that take none', () => {
    expect(() => expectNoArgs(CHANNELS.openDataFolder, [])).not.toThrow();
    expect(() => expectNoArgs(CHANNELS.chooseFolder, ['/etc'])).toThrow(IpcInputError);
  });

  it('uses the same channel names in the preload bridge as in the main process', () => {
    const preload = fs.readFileSync(path.join(ROOT, 'electron/preload.cts'), 'utf8');
    const used = [...preload.matchAll(/ipcRenderer\.invoke\('([^']+)'/g)].map((m) => m[1]).sort();
    expect(used).toEqual(Object.values(CHANNELS).sort());
    // The bridge exposes no Electron or Node object to the page, only functions.
    expect(preload).not.toMatch(/exposeInMainWorld\([^)]*ipcRenderer\s*\)/);
  });
});

describe('engine messages', () => {
  it('accepts well-formed messages and drops everything else', () => {
    expect(parseEngineMessage({ type: 'ready', url: APP, key: 'drk_x', dataDir: '/d' })).toEqual({ type: 'ready', url: APP, key: 'drk_x', dataDir: '/d' });
    expect(parseEngineMessage({ type: 'progress', pending: 2, processed: 1, failed: 0, total: 3, extra: 1 })).toEqual({ type: 'progress', pending: 2, processed: 1, failed: 0, total: 3 });
    expect(parseEngineMessage({ type: 'batch-finished', processed: 3, failed: 1 })).toEqual({ type: 'batch-finished', processed: 3, failed: 1 });
    for (const bad of [null, 'ready', { type: 'ready', url: APP }, { type: 'progress', pending: -1, processed: 0, failed: 0, total: 0 }, { type: 'exec', cmd: 'rm' }]) {
      expect(parseEngineMessage(bad), JSON.stringify(bad)).toBeUndefined();
    }
  });
});

describe('queue progress on the badge and in notifications', () => {
  it('shows what remains and how far the batch is', () => {
    expect(progressView({ pending: 0, processed: 0, failed: 0, total: 0 })).toEqual({ badgeCount: 0, fraction: -1, tooltip: 'Darkroom — idle' });
    expect(progressView({ pending: 3, processed: 1, failed: 0, total: 4 })).toEqual({ badgeCount: 3, fraction: 0.25, tooltip: 'Darkroom — 1 of 4 images processed' });
    expect(progressView({ pending: 1, processed: 0, failed: 0, total: 1 }).fraction).toBe(0.01);
    expect(progressView({ pending: 1, processed: 999, failed: 0, total: 1000 }).fraction).toBe(0.99);
  });

  it('says what a finished batch did', () => {
    expect(batchNotice({ processed: 0, failed: 0 })).toBeUndefined();
    expect(batchNotice({ processed: 1, failed: 0 })).toEqual({ title: 'Images ready', body: '1 image processed.' });
    expect(batchNotice({ processed: 12, failed: 2 })).toEqual({ title: 'Images ready', body: '12 images processed, 2 failed.' });
    expect(batchNotice({ processed: 0, failed: 3 })).toEqual({ title: 'Processing failed', body: '3 images could not be processed.' });
  });
});

describe('window state', () => {
  const screen = { x: 0, y: 0, width: 1920, height: 1080 };

  it('opens where it was, at the size it had', () => {
    const saved = { bounds: { x: 100, y: 80, width: 1000, height: 700 }, maximized: true };
    expect(placeWindow(saved, [screen])).toEqual(saved);
  });

  it('comes back on screen when its monitor is gone, and fits the screens there are', () => {
    const onSecondMonitor = { bounds: { x: 2500, y: 100, width: 2400, height: 1400 }, maximized: false };
    expect(placeWindow(onSecondMonitor, [screen])).toEqual({ bounds: { width: 1920, height: 1080 }, maximized: false });
    expect(placeWindow({ bounds: { x: 10, y: -500, width: 900, height: 600 }, maximized: false }, [screen]).bounds).toEqual({ width: 900, height: 600 });
    expect(placeWindow(undefined, [screen])).toEqual({ bounds: { width: 1280, height: 820 }, maximized: false });
    expect(placeWindow({ bounds: { width: 50, height: 50 }, maximized: false }, [screen]).bounds).toEqual({ width: 720, height: 480 });
  });

  it('reads back only a valid saved state, and writes it whole', () => {
    expect(parseWindowState({ bounds: { x: 1, y: 2, width: 800, height: 600 }, maximized: false })).toEqual({ bounds: { x: 1, y: 2, width: 800, height: 600 }, maximized: false });
    expect(parseWindowState({ bounds: { width: 800, height: 600, x: 'left' } })).toEqual({ bounds: { width: 800, height: 600 }, maximized: false });
    for (const bad of [null, {}, { bounds: { width: -1, height: 600 } }, { bounds: { width: 1e9, height: 600 } }, { bounds: { width: 1.5, height: 600 } }]) {
      expect(parseWindowState(bad), JSON.stringify(bad)).toBeUndefined();
    }
    const dir = tempDir('darkroom-state-');
    const file = path.join(dir, 'window-state.json');
    expect(readWindowState(file)).toBeUndefined();
    writeWindowState(file, { bounds: { x: 5, y: 6, width: 900, height: 700 }, maximized: true });
    expect(readWindowState(file)).toEqual({ bounds: { x: 5, y: 6, width: 900, height: 700 }, maximized: true });
    fs.writeFileSync(file, '{"bounds": {"wid');
    expect(readWindowState(file)).toBeUndefined();
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('desktop command line', () => {
  it('picks the server options out of the app arguments and ignores the rest', () => {
    const raw = serverOptionsFromArgs(['--no-sandbox', '--watch', '/a', '--data-dir=/d', '--watch', '/b', 'photo.jpg', '--workers', '2', '--enable-logging']);
    expect(raw).toEqual({ watch: ['/a', '/b'], dataDir: '/d', workers: '2' });
    expect(serverOptionsFromArgs([])).toEqual({});
    expect(serverOptionsFromArgs(['--s3-force-path-style', '--s3-prefix', 'x'])).toEqual({ s3ForcePathStyle: 'true', s3Prefix: 'x' });
  });
});
