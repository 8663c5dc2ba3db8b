import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUiHandler, defaultUiDir } from '../../server/http/ui.js';
import { startTestServer, tempDir, type TestServer } from '../helpers/server.js';

let t: TestServer;

beforeAll(async () => {
  if (!fs.existsSync(path.join(defaultUiDir(), 'index.html'))) throw new Error('the web UI is not built: run "npm run build" first (npm test does)');
  t = await startTestServer();
});
afterAll(() => t.close());

describe('serving the web UI', () => {
  it('answers "/" and every page address with the app, under a strict CSP', async () => {
    for (const page of ['/', '/stats', '/keys', '/presets', `/images/0198a0b2-0000-7000-8000-000000000000`]) {
      const res = await fetch(t.url + page);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/html/);
      expect(await res.text()).toContain('<div id="root"></div>');
      const csp = res.headers.get('content-security-policy')!;
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain('unsafe-inline');
      expect(csp).not.toContain('unsafe-eval');
      expect(csp).not.toContain('upgrade-insecure-requests');
      expect(res.headers.get('strict-transport-security')).toBeNull();
      expect(res.headers.get('cache-control')).toBe('no-cache');
    }
  });

  it('has no inline script or style in the page, and serves hashed assets for a year', async () => {
    const html = await (await fetch(t.url)).text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style/);
    expect(html).not.toMatch(/\sstyle=/);
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const res = await fetch(t.url + asset);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/javascript/);
    expect(res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
  });

  it('answers 404 for missing files and keeps /v1 errors JSON', async () => {
    expect((await fetch(`${t.url}/assets/nope.js`)).status).toBe(404);
    expect((await fetch(`${t.url}/missing.png`)).status).toBe(404);
    const api = await fetch(`${t.url}/v1/nothing-here`, { headers: t.admin.headers() });
    expect(api.status).toBe(404);
    expect(((await api.json()) as any).error.code).toBe('not_found');
    expect((await fetch(`${t.url}/v1/images`)).status).toBe(401);
  });

  it('says how to build it when it is not built', async () => {
    const app = express().use(createUiHandler({ dir: tempDir('darkroom-no-ui-') }));
    const server = http.createServer(app).listen(0);
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
      expect(res.status).toBe(503);
      expect(await res.text()).toContain('npm run build');
    } finally {
      server.close();
    }
  });
});
