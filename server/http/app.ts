import crypto from 'node:crypto';
import express, { type Express } from 'express';
import { pinoHttp } from 'pino-http';
import type { Logger } from 'pino';
import type { DatabaseErrors } from '../db/port.js';
import { AppError } from '../errors.js';
import type { KeysService } from '../services/keys.service.js';
import { authenticate, type VerifySignedLink } from './middleware/auth.js';
import { errorHandler } from './middleware/errors.js';
import type { Metrics } from './metrics.js';
import { imagesRouter, type ImagesRoutesDeps } from './routes/images.routes.js';
import { keysRouter } from './routes/keys.routes.js';
import { opsRouter, type Readiness } from './routes/ops.routes.js';
import { checkAnswers, type AnswerCheckOptions } from './openapi/check-answers.js';
import { openApiDocument } from './openapi/document.js';
import { openApiRouter } from './openapi/openapi.routes.js';
import { createDocsPage } from './openapi/docs-page.js';
import { UPLOADS_PATH } from './tus/resumable-uploads.js';

export interface AppDeps {
  logger: Logger;
  /** How the database's failures read as the API's errors (its port: DatabasePort.translateError). */
  database: DatabaseErrors;
  metrics: Metrics;
  keys: KeysService;
  /** Checks the signature of a signed link's render request, which needs no key (middleware/auth.ts). */
  verifySignedLink?: VerifySignedLink;
  readiness: Readiness;
  images: ImagesRoutesDeps;
  /** Extra /v1 routers added by other parts (stats, events, uploads …), mounted after auth. */
  extraV1Routers?: express.Router[];
  /** Routers mounted before auth (tus does its own auth). */
  preAuthV1Routers?: express.Router[];
  /** Mounted last at "/": the web UI. */
  ui?: express.RequestHandler;
  /** Before every route: the Host check of a loopback-bound server (middleware/host-check.ts). */
  hostCheck?: express.RequestHandler;
  /** After authentication: --rate-limit (middleware/rate-limit.ts). */
  rateLimit?: express.RequestHandler;
  /**
   * For tests: parse every JSON answer with its schema before sending it (http/answer.ts), and
   * check every answer against the OpenAPI document (openapi/check-answers.ts), reporting to
   * the options given.
   */
  checkAnswers?: boolean | AnswerCheckOptions;
}

const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

/** Builds the HTTP app without listening: the server, tests and the desktop shell share it. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');
  app.locals.checkAnswers = Boolean(deps.checkAnswers);
  if (deps.checkAnswers) app.use(checkAnswers(openApiDocument(), typeof deps.checkAnswers === 'object' ? deps.checkAnswers : {}));

  app.use(
    pinoHttp({
      logger: deps.logger,
      genReqId: (req, res) => {
        const given = req.headers['x-request-id'];
        const id = typeof given === 'string' && REQUEST_ID.test(given) ? given : crypto.randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      customLogLevel: (_req, res, err) => (err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'info' : 'debug'),
      autoLogging: { ignore: (req) => req.url === '/healthz' || req.url === '/metrics' },
    }),
  );
  app.use((req, res, next) => {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    const end = deps.metrics.httpDuration.startTimer({ method: req.method });
    res.on('finish', () => {
      const route = req.route?.path ? `${req.baseUrl}${req.route.path}` : 'unmatched';
      end({ route, status: `${Math.floor(res.statusCode / 100)}xx` });
    });
    next();
  });

  if (deps.hostCheck) app.use(deps.hostCheck);
  app.use(opsRouter(deps.readiness, deps.metrics));

  const v1 = express.Router();
  v1.use(openApiRouter(openApiDocument));
  for (const router of deps.preAuthV1Routers ?? []) v1.use(router);
  v1.use(authenticate(deps.keys, deps.verifySignedLink));
  if (deps.rateLimit) v1.use(deps.rateLimit);
  // Express's routers answer OPTIONS themselves (200 and an Allow list) on any path they know,
  // an answer the API description does not have. Only tus speaks OPTIONS here (its discovery);
  // elsewhere OPTIONS is like any method a path does not take: 404.
  v1.use((req, _res, next) =>
    req.method === 'OPTIONS' && !req.originalUrl.startsWith(UPLOADS_PATH) ? next(new AppError('not_found', `no endpoint OPTIONS /v1${req.path}`)) : next(),
  );
  v1.use(imagesRouter(deps.images));
  v1.use(keysRouter(deps.keys));
  for (const router of deps.extraV1Routers ?? []) v1.use(router);
  v1.use((req, _res, next) => next(new AppError('not_found', `no endpoint ${req.method} /v1${req.path}`)));
  app.use('/v1', v1);

  app.use('/docs', createDocsPage());
  if (deps.ui) app.use(deps.ui);
  app.use((req, _res, next) => next(new AppError('not_found', `no endpoint ${req.method} ${req.path}`)));
  app.use(errorHandler(deps.logger, deps.database));
  return app;
}
