import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type RequestHandler } from 'express';
import helmet from 'helmet';

/**
 * The Content-Security-Policy of the web UI. Only our own scripts and styles run (the build has
 * no inline code); images are our own, or blob:/data: URLs the UI makes from authorised
 * downloads and thumbhash placeholders; the page talks to this server only.
 */
export const UI_CSP_DIRECTIVES = {
  defaultSrc: ["'self'"],
  scriptSrc: ["'self'"],
  styleSrc: ["'self'"],
  imgSrc: ["'self'", 'blob:', 'data:'],
  connectSrc: ["'self'"],
  fontSrc: ["'self'"],
  manifestSrc: ["'self'"],
  objectSrc: ["'none'"],
  baseUri: ["'none'"],
  formAction: ["'self'"],
  frameAncestors: ["'none'"],
};

/** dist/renderer of this package, found from this module whether it runs from source or dist/. */
export function defaultUiDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return path.join(dir, 'dist', 'renderer');
}

/** The headers of every page the server serves (the web UI, the API reference): its CSP and helmet's others. */
export function uiSecurityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: { useDefaults: false, directives: UI_CSP_DIRECTIVES },
    // Served over plain HTTP on a LAN: neither HSTS nor upgrading requests would work there,
    // and browsers ignore (and complain in the console about) Cross-Origin-Opener-Policy on an
    // origin that is not secure. frame-ancestors 'none' in the CSP already stops framing.
    strictTransportSecurity: false,
    crossOriginOpenerPolicy: false,
  });
}

/**
 * Serves the built web UI at `/`: hashed assets cached for a year, index.html for every page
 * address (the UI routes in the browser), all under a strict CSP. Mounted after the API, so it
 * never answers for `/v1`.
 */
export function createUiHandler(options: { dir?: string } = {}): RequestHandler {
  const dir = path.resolve(options.dir ?? defaultUiDir());
  const index = path.join(dir, 'index.html');
  const router = express.Router();

  router.use(uiSecurityHeaders());
  router.use(
    '/assets',
    express.static(path.join(dir, 'assets'), { immutable: true, maxAge: '365d', index: false }),
  );
  router.use(express.static(dir, { index: false, maxAge: '1h' }));

  router.use((req, res, next) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || req.path.startsWith('/v1/')) return next();
    // Addresses with a file extension are files: a missing one is a 404, not the app.
    if (path.extname(req.path)) return next();
    if (!fs.existsSync(index)) {
      res.status(503).type('text/plain').send('The web UI is not built. Run "npm run build" (or "npm start", which builds it).\n');
      return;
    }
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(index);
  });
  return router;
}
