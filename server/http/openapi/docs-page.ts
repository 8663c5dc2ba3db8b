import { createRequire } from 'node:module';
import path from 'node:path';
import express, { type RequestHandler } from 'express';
import { uiSecurityHeaders } from '../ui.js';

const require = createRequire(import.meta.url);
const SWAGGER_UI_DIR = path.dirname(require.resolve('swagger-ui-dist/package.json'));

/** The two files of Swagger UI the page loads; nothing else of the package is served. */
const ASSETS = new Set(['swagger-ui.css', 'swagger-ui-bundle.js']);

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Darkroom API reference</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<main id="reference"></main>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/reference.js"></script>
</body>
</html>
`;

// A file of its own, not an inline script: the page runs under the UI's CSP (script-src 'self').
// validatorUrl null: Swagger UI would otherwise send the document to validator.swagger.io.
const START = `window.ui = SwaggerUIBundle({
  url: '/v1/openapi.json',
  dom_id: '#reference',
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: 'BaseLayout',
});
`;

/**
 * `GET /docs`: the API reference, rendered in the browser by Swagger UI (bundled: swagger-ui-dist)
 * from `/v1/openapi.json`. Everything it loads comes from this server, under the same
 * Content-Security-Policy as the web UI; "Try it out" sends requests to this server with the key
 * given under "Authorize". Why Swagger UI: its distribution is two static files with no request
 * of its own once the validator badge is off; the alternatives load fonts or scripts from a CDN
 * by default.
 */
export function createDocsPage(): RequestHandler {
  const router = express.Router();
  router.use(uiSecurityHeaders());
  router.use((req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    if (req.path === '/' || req.path === '') {
      res.setHeader('Cache-Control', 'no-cache');
      return void res.type('html').send(PAGE);
    }
    if (req.path === '/reference.js') {
      res.setHeader('Cache-Control', 'no-cache');
      return void res.type('js').send(START);
    }
    const asset = req.path.startsWith('/assets/') ? req.path.slice('/assets/'.length) : undefined;
    if (asset === undefined || !ASSETS.has(asset)) return next();
    res.sendFile(asset, { root: SWAGGER_UI_DIR, maxAge: '1h' });
  });
  return router;
}
