import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_SVG_BYTES } from '../../workers/decoders.js';
import { solid } from '../helpers/images.js';
import { listFiles, startTestServer, type ApiClient, type TestServer } from '../helpers/server.js';

const SIZE = 120;
let t: TestServer;
let alice: ApiClient;
let mallory: ApiClient;
let aliceOriginal: string; // where Alice's pure red original sits
let aliceFolder: string;
let lure: http.Server;
let lureUrl: string;
const lureRequests: string[] = [];

beforeAll(async () => {
  t = await startTestServer();
  alice = await t.client('user', 'alice');
  mallory = await t.client('user', 'mallory');
  const redPng = await solid(SIZE, SIZE, 'png', '#ff0000');
  const uploaded = await alice.upload([{ name: 'red.png', data: redPng, type: 'image/png' }]);
  expect(uploaded.status).toBe(202);
  expect((await alice.waitFor(uploaded.body.id)).status).toBe('done');
  aliceOriginal = t.server.parts.store.originalPath(uploaded.body.sha256);
  expect(fs.existsSync(aliceOriginal)).toBe(true);

  // Files beside Alice's original, as other customers' originals would be.
  aliceFolder = path.dirname(aliceOriginal);
  fs.writeFileSync(path.join(aliceFolder, 'secret.txt'), 'SECRET SECRET SECRET');
  fs.writeFileSync(path.join(aliceFolder, 'evil.css'), 'rect { fill: #ff0000 !important; }');
  fs.writeFileSync(path.join(aliceFolder, 'shapes.svg'), `<svg xmlns="http://www.w3.org/2000/svg"><rect id="x" width="${SIZE}" height="${SIZE}" fill="#ff0000"/></svg>`);
  // A server on loopback that would serve red pixels to anyone who asked.
  lure = http.createServer((req, res) => {
    lureRequests.push(req.url ?? '');
    res.writeHead(200, { 'content-type': 'image/png' }).end(redPng);
  });
  await new Promise<void>((resolve) => lure.listen(0, '127.0.0.1', resolve));
  lureUrl = `http://127.0.0.1:${(lure.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await t.close();
  await new Promise((resolve) => lure.close(resolve));
});

/** An SVG with a blue background and `body` on top of it. */
const svg = (body: string, extra = '') =>
  `<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" xmlns:xi="http://www.w3.org/2001/XInclude" width="${SIZE}" height="${SIZE}"${extra}>` +
  `<rect width="${SIZE}" height="${SIZE}" fill="#0000ff"/>${body}</svg>`;
const image = (href: string) => `<image x="0" y="0" width="${SIZE}" height="${SIZE}" href="${href}" xlink:href="${href}"/>`;

/**
 * An SVG with `body` that will be stored in the very folder as Alice's original (originals/ab/cd/,
 * from the first four hex digits of the sha256), so it can name files there by their bare name:
 * librsvg refuses references that leave the document's folder, and these do not leave it. Any
 * customer's original can sit there (an SVG original is text a reference can pull in). A comment
 * is varied until the hash lands there: about 65,000 tries.
 */
function besideAlicesOriginal(body: string): string {
  const prefix = path.basename(aliceOriginal).slice(0, 4);
  for (let i = 0; ; i++) {
    const document = svg(`${body}<!-- ${i} -->`);
    if (crypto.createHash('sha256').update(document).digest('hex').startsWith(prefix)) return document;
  }
}

/** Mallory uploads the SVG; returns the extremes of each channel of her display variant. */
async function renderedBy(document: string) {
  const res = await mallory.upload([{ name: 'innocent.svg', data: Buffer.from(document), type: 'image/svg+xml' }]);
  expect(res.status, JSON.stringify(res.body)).toBe(202);
  const done = await mallory.waitFor(res.body.id);
  expect(done.status, JSON.stringify(done.error)).toBe('done');
  const display = await mallory.download(res.body.id, 'display');
  expect(display.status).toBe(200);
  const stats = await sharp(display.body).removeAlpha().stats();
  const [r, g, b] = stats.channels;
  return { maxRed: r!.max, maxGreen: g!.max, minBlue: b!.min };
}

/** Blue everywhere, give or take what lossy WebP does to a flat colour; any red of Alice's is 255. */
function expectAllBlue(colours: { maxRed: number; maxGreen: number; minBlue: number }) {
  expect(colours.maxRed).toBeLessThan(16);
  expect(colours.maxGreen).toBeLessThan(16);
  expect(colours.minBlue).toBeGreaterThan(240);
}

describe('SVGs that reference other files', () => {
  it('render an image they carry themselves (data: URI): the check below can see pixels of an <image>', async () => {
    const red = (await solid(SIZE, SIZE, 'png', '#ff0000')).toString('base64');
    const colours = await renderedBy(svg(image(`data:image/png;base64,${red}`)));
    expect(colours.maxRed).toBeGreaterThan(240);
  });

  const references: Array<[string, () => string]> = [
    ["another customer's original in the same folder, by its file name", () => besideAlicesOriginal(image(path.basename(aliceOriginal)))],
    ["another customer's original by relative path, from where the SVG is stored", () => svg(image(`../../${path.relative(path.dirname(path.dirname(aliceFolder)), aliceOriginal)}`))],
    ["another customer's original by absolute path", () => svg(image(aliceOriginal))],
    ["another customer's original by file: URL", () => svg(image(`file://${aliceOriginal}`))],
    ['an image on a loopback http: server', () => svg(image(`${lureUrl}/red.png`))],
    [
      'a text file through xi:include',
      () => besideAlicesOriginal(`<text x="0" y="${SIZE / 2}" font-size="${SIZE}" fill="#ff0000"><xi:include href="secret.txt" parse="text"/></text>`),
    ],
    ['a style sheet through CSS @import', () => besideAlicesOriginal(`<style>@import url("evil.css");</style><rect width="${SIZE}" height="${SIZE}" fill="#0000ff"/>`)],
    ['a shape in another SVG through <use>', () => besideAlicesOriginal(`<use href="shapes.svg#x" xlink:href="shapes.svg#x"/>`)],
  ];

  for (const [what, document] of references) {
    it(`resolve nothing of ${what}: the output is the SVG's own blue only`, async () => {
      expectAllBlue(await renderedBy(document()));
    });
  }

  it('never asked the loopback server for anything', () => {
    expect(lureRequests).toEqual([]);
  });

  it('are refused with 413 past the size Darkroom decodes in memory, leaving nothing behind', async () => {
    const before = listFiles(path.join(t.dataDir, 'originals'));
    const padding = `<!-- ${'x'.repeat(MAX_SVG_BYTES)} -->`;
    const res = await mallory.upload([{ name: 'huge.svg', data: Buffer.from(svg(padding)), type: 'image/svg+xml' }]);
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
    expect(res.body.error.message).toMatch(/SVG images may be at most 2097152 bytes/);
    expect(listFiles(path.join(t.dataDir, 'originals'))).toEqual(before);
    expect(listFiles(path.join(t.dataDir, 'tmp'))).toEqual([]);
  });
});
