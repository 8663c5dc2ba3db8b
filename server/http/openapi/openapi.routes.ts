import { Router } from 'express';
import type { OpenApiDocument } from './document.js';
import { noQuery } from '../validate.js';

/**
 * `GET /v1/openapi.json`, without a key: the document is public (it describes the API, it holds
 * nothing of anyone's). Built once, at the first request for it (about 2 MB of heap and 30 ms
 * that a server nobody asks for its description does without); its ETag is a hash of its bytes, so a client (or a
 * proxy) revalidates with If-None-Match and gets 304 until the server changes version.
 */
export function openApiRouter(documentOf: () => OpenApiDocument): Router {
  const router = Router();
  router.get('/openapi.json', noQuery, (req, res) => {
    const api = documentOf();
    res.setHeader('ETag', api.etag);
    res.setHeader('Cache-Control', 'no-cache');
    if (matches(req.headers['if-none-match'], api.etag)) return void res.status(304).end();
    res.type('json').send(api.text);
  });
  return router;
}

/**
 * If-None-Match against our ETag (weak comparison, as RFC 9110 has it for this header). Not
 * express's req.fresh: that one is a cache's rule and ignores the header when the request says
 * `Cache-Control: no-cache`, which fetch() adds to every conditional request it is given; the
 * origin answers 304 to those all the same.
 */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  return ifNoneMatch.split(',').some((tag) => tag.trim() === '*' || opaque(tag) === opaque(etag));
}
