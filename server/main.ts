import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { openDatabase } from './db/connection.js';
import { createImagesRepo } from './db/images.repo.js';
import { createJobsRepo } from './db/jobs.repo.js';
import { createKeysRepo } from './db/keys.repo.js';
import { createApp } from './http/app.js';
import { createMetrics } from './http/metrics.js';
import { eventsRouter } from './http/routes/events.routes.js';
import { sessionRouter } from './http/routes/session.routes.js';
import { uploadsRouter } from './http/routes/uploads.routes.js';
import { createUiHandler } from './http/ui.js';
import { createDispatcher } from './jobs/dispatcher.js';
import { createExtractMetadataHandler } from './jobs/handlers/extract-metadata.js';
import { createProcessImageHandler } from './jobs/handlers/process-image.js';
import { createImagePool } from './jobs/pool.js';
import { createJobRunner } from './jobs/runner.js';
import { schedulePurge } from './jobs/scheduler.js';
import { createLogger } from './logger.js';
import { createImagesService } from './services/images.service.js';
import { createIngestService } from './services/ingest.service.js';
import { createKeysService } from './services/keys.service.js';
import { createLifecycle } from './services/lifecycle.js';
import { createRetentionService } from './services/retention.service.js';
import { createResumableUploads } from './services/resumable-uploads.js';
import { createFsBlobStore } from './storage/fs-blob-store.js';
import { acquireDataDirLock } from './storage/data-dir-lock.js';
import { systemClock, type Clock } from './util/clock.js';

export interface StartOptions {
  clock?: Clock;
  logger?: Logger;
  /** Where the ready line and the bootstrap key go; stdout by default. */
  print?: (line: string) => void;
  /** Longest a single job may run before it is aborted and retried. */
  jobTimeoutMs?: number;
  /** The built web UI; dist/renderer of this package by default. */
  uiDir?: string;
}

export type RunningServer = Awaited<ReturnType<typeof startServer>>;

const SHUTDOWN_GRACE_MS = 7_000;

export function formatUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * The composition root: parses nothing (config arrives parsed), opens the database, the store
 * and the worker pool, wires services to routes, listens, and returns a handle whose close()
 * shuts everything down in order. Used by the CLI, the desktop shell and the tests alike.
 */
export async function startServer(config: Config, options: StartOptions = {}) {
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? createLogger(config.logLevel);
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));

  fs.mkdirSync(config.dataDir, { recursive: true });
  const lock = acquireDataDirLock(config.dataDir);
  const db = openDatabase(path.join(config.dataDir, 'darkroom.db'));
  const store = createFsBlobStore(config.dataDir);
  store.init();
  const transaction = <T>(fn: () => T): T => db.transaction(fn)();

  const keysRepo = createKeysRepo(db);
  const imagesRepo = createImagesRepo(db);
  const jobsRepo = createJobsRepo(db);
  const keys = createKeysService(keysRepo, clock);
  if (config.adminKey) keys.ensureAdminKey(config.adminKey);
  const bootstrapKey = keys.bootstrapAdminKey();

  const metrics = createMetrics({ queuedJobs: jobsRepo.countQueued, runningJobs: jobsRepo.countRunning });
  const pool = createImagePool({ threads: config.workers });
  const lifecycle = createLifecycle({ images: imagesRepo, jobs: jobsRepo, clock });
  const retention = createRetentionService({ db, images: imagesRepo, jobs: jobsRepo, store, clock });
  const dispatcher = createDispatcher({ jobs: jobsRepo, transaction, clock, maxAttempts: config.jobMaxAttempts });
  const runner = createJobRunner({
    repo: jobsRepo,
    transaction,
    clock,
    logger,
    concurrency: config.workers,
    jobTimeoutMs: options.jobTimeoutMs ?? 15 * 60_000,
    handlers: {
      process_image: createProcessImageHandler({
        images: imagesRepo,
        store,
        pool,
        clock,
        lifecycle,
        processedTtlMs: config.processedTtl,
        maxInputPixels: config.maxInputPixels,
      }),
      extract_metadata: createExtractMetadataHandler({ images: imagesRepo, store, pool, clock, lifecycle }),
    },
    onJobSettled: (job, outcome, seconds) => metrics.processing.observe({ kind: job.kind, outcome }, seconds),
  });

  /** New work was committed: turn events into jobs and wake the runner. */
  const wake = () => {
    dispatcher.dispatch();
    runner.kick();
  };
  lifecycle.events.on('status', () => {
    // Settled images append outbox events; dispatching them keeps the outbox short.
    setImmediate(() => dispatcher.dispatch());
  });

  const ingest = createIngestService({
    db,
    images: imagesRepo,
    jobs: jobsRepo,
    store,
    clock,
    limits: { maxInputPixels: config.maxInputPixels, maxQueuedJobs: config.maxQueuedJobs, minFreeBytes: config.minFreeBytes },
    onAccepted: wake,
  });
  const images = createImagesService({
    db,
    images: imagesRepo,
    jobs: jobsRepo,
    store,
    clock,
    onChanged: wake,
    expireVariant: retention.expireVariant,
  });

  const uploadLimits = { maxBytes: config.maxUploadBytes, maxInputPixels: config.maxInputPixels };
  const onUploadOutcome = (outcome: string) => metrics.uploads.inc({ outcome });
  const resumable = createResumableUploads({ dataDir: config.dataDir, ingest, limits: uploadLimits, clock, logger, onUploadOutcome });
  const events = eventsRouter(lifecycle.events);

  const app = createApp({
    logger,
    metrics,
    keys,
    readiness: {
      checks: {
        database: () => db.prepare('SELECT 1 AS ok').get() !== undefined,
        workers: () => pool.isAlive(),
        disk: async () => (await store.freeBytes()) > config.minFreeBytes,
      },
    },
    images: {
      ingest,
      images,
      store,
      clock,
      limits: uploadLimits,
      onUploadOutcome,
    },
    extraV1Routers: [
      sessionRouter({ maxUploadBytes: config.maxUploadBytes, maxInputPixels: config.maxInputPixels }),
      uploadsRouter(resumable),
      events.router,
    ],
    ui: createUiHandler({ dir: options.uiDir }),
  });

  const server = http.createServer(app);
  // Uploads of several gigabytes take as long as they take; only idle and header phases time out.
  server.requestTimeout = 0;
  server.headersTimeout = 60_000;
  server.keepAliveTimeout = 5_000;
  // "Expect: 100-continue" (curl sends it for large bodies): the route decides, after auth and
  // the cheap checks, whether to invite the body (see http/middleware/upload.ts).
  server.on('checkContinue', (req, res) => server.emit('request', req, res));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = formatUrl(config.host, port);

  dispatcher.dispatch();
  runner.start();
  resumable.sweep().catch((err: unknown) => logger.error({ err }, 'sweeping resumable uploads failed'));
  const purge = schedulePurge(config.purgeSchedule, retention.purge, logger, (n) => metrics.purged.inc(n));

  if (bootstrapKey) {
    print(`darkroom: created the first admin key (shown once, keep it): ${bootstrapKey}`);
    print(`darkroom: log in to the web UI with ${url}/#key=${bootstrapKey}`);
  }
  print(`darkroom listening on ${url}`);
  logger.info({ url, dataDir: config.dataDir, workers: config.workers }, 'ready');

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      logger.info('shutting down');
      purge.stop();
      resumable.close();
      // Open event streams would otherwise hold the server open until the grace period ends.
      events.close();
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await runner.stop(SHUTDOWN_GRACE_MS);
      // Requests still open now (a slow upload) are cut; the client retries, nothing was stored.
      server.closeAllConnections();
      await serverClosed;
      await pool.destroy();
      db.close();
      lock.release();
      logger.info('stopped');
      logger.flush?.();
    })();
    return closing;
  };

  return {
    url,
    port,
    close,
    // For tests and the desktop shell: the same parts the app uses.
    parts: { db, store, keys, images: imagesRepo, jobs: jobsRepo, retention, runner, dispatcher, lifecycle, clock, config, uploads: resumable },
  };
}
