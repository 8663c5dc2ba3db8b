import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { createNodeRegistry } from './cluster/node-registry.js';
import { openChosenDatabase, openChosenSignals } from './db/open-database.js';
import { createApp, type AppDeps } from './http/app.js';
import { createHttpServer } from './http/connection/http-server.js';
import { requireLoopbackHost } from './http/middleware/host-check.js';
import { rateLimitPerKey } from './http/middleware/rate-limit.js';
import { limitUploadsPerKey } from './http/middleware/uploads-per-key.js';
import { createMetrics } from './http/metrics.js';
import { importRouter } from './http/routes/import.routes.js';
import { watchRouter } from './http/routes/watch.routes.js';
import { eventsRouter } from './http/routes/events.routes.js';
import { sessionRouter } from './http/routes/session.routes.js';
import { uploadsRouter } from './http/routes/uploads.routes.js';
import { createUiHandler } from './http/ui.js';
import { createDispatcher } from './jobs/dispatcher.js';
import { createExtractMetadataHandler } from './jobs/handlers/extract-metadata.js';
import { createProcessImageHandler } from './jobs/handlers/process-image.js';
import { createPurgeHandler } from './jobs/handlers/purge.js';
import { createImagePool } from './jobs/pool.js';
import { createJobRunner } from './jobs/runner.js';
import { schedulePurge } from './jobs/scheduler.js';
import { createLogger } from './logger.js';
import { createBlobPlacement } from './services/blob-placement.js';
import { createImagesService } from './services/images.service.js';
import { createImportService } from './services/import.service.js';
import { createIngestPipeline } from './services/ingest/pipeline.js';
import { createKeysService } from './services/keys.service.js';
import { createPresetsService } from './services/presets.service.js';
import { presetsRouter } from './http/routes/presets.routes.js';
import { linksRouter } from './http/routes/links.routes.js';
import { createLinksService, type LinkKeys } from './services/links/links.service.js';
import crypto from 'node:crypto';
import { createLifecycle } from './services/lifecycle.js';
import { createRetentionService } from './services/retention.service.js';
import { createStatsService } from './services/stats/stats.service.js';
import { outputLimits } from './services/variants.js';
import { statsRouter } from './http/routes/stats.routes.js';
import { syncRouter } from './http/routes/sync.routes.js';
import { nodesRouter } from './http/routes/nodes.routes.js';
import { packageVersion } from './util/package-version.js';
import { assertNoOriginalsOnlyInBucket } from './sync/bucket-only-originals.js';
import type { S3SyncTuning } from './sync/s3-sync.js';
import { createResumableUploads } from './http/tus/resumable-uploads.js';
import { createUploadLeases } from './http/tus/upload-leases.js';
import { createFsBlobStore } from './storage/fs/fs-blob-store.js';
import { createFsUploadParts } from './storage/fs/fs-upload-parts.js';
import { acquireDataDirLock } from './storage/data-dir-lock.js';
import { ensurePrivateDataDir } from './storage/private-files.js';
import { translateFileSystemError } from './storage/fs-errors.js';
import { reconcileDataDir, type ReconcileReport } from './recovery/reconcile.js';
import { systemClock, type Clock } from './util/clock.js';
import type { WatchTiming } from './watch/folder-watcher.js';
import { createWatchService } from './watch/watch.service.js';
import { endRawProbe } from './media/probe-raw.js';
import { webhooksRouter } from './http/routes/webhooks.routes.js';
import { renderRouter } from './http/routes/render.routes.js';
import { createRenderService } from './services/render/render.service.js';
import { createWorkSlots } from './jobs/work-slots.js';
import { localOriginals } from './storage/original-source.js';
import { createDeliverWebhookHandler } from './jobs/handlers/deliver-webhook.js';
import { createWebhookMessages } from './services/webhooks/messages.js';
import { createWebhooksService } from './services/webhooks/webhooks.service.js';
import { hostProblem, systemResolve, type Resolve } from './webhooks/address-policy.js';
import { createSender } from './webhooks/sender.js';

export interface StartOptions {
  clock?: Clock;
  logger?: Logger;
  /** Where the ready line and the bootstrap key go; stdout by default. */
  print?: (line: string) => void;
  /** Lines printed once the server is up, before its ready line (nothing if it fails to start). */
  notices?: string[];
  /** Watch-folder timing (write-finish wait, polling interval); tests shorten it. */
  watchTiming?: Partial<WatchTiming>;
  /** S3 sync part sizes, concurrency and retry timing; tests shorten the waits. */
  s3?: Partial<S3SyncTuning>;
  /** The built web UI; dist/renderer of this package by default. */
  uiDir?: string;
  /** Check every answer against its API schema and the OpenAPI document (http/app.ts); tests set it. */
  checkAnswers?: AppDeps['checkAnswers'];
  /** How webhook hosts are resolved, at registration and at delivery; the system's resolver by default (tests play DNS). */
  webhookResolve?: Resolve;
}

export type RunningServer = Awaited<ReturnType<typeof startServer>>;

const SHUTDOWN_GRACE_MS = 7_000;
/** Webhook deliveries in flight at once, and at most this many to one endpoint (a slow receiver holds no more). */
const WEBHOOK_CONCURRENCY = 16;
const WEBHOOK_PER_ENDPOINT = 2;
/** Webhook deliveries in flight at once for one customer: half the queue, so another customer always finds slots free. */
const WEBHOOK_PER_CUSTOMER = WEBHOOK_CONCURRENCY / 2;

export const FSYNC_OFF_NOTICE =
  'darkroom: note: --fsync false: uploads are answered before they are on stable storage; a power cut (not a crash of Darkroom) can lose or empty recently accepted images';

/**
 * With the bucket as the store, originals or processed files in the data dir are those of an
 * installation that kept them there: its images would be recorded with files this server never
 * reads. Refused, with what to do, rather than served with 404s.
 */
function refuseLocalFiles(dataDir: string): void {
  for (const folder of ['originals', 'processed']) {
    const at = path.join(dataDir, folder);
    if (fs.existsSync(at) && fs.readdirSync(at).length > 0) {
      throw new Error(
        `${at} holds files of --storage local: with --storage s3 they would never be read. Copy them into the bucket first (or start with --storage local)`,
      );
    }
  }
}

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
  // Every line names the node that wrote it (--node-id): a cluster's logs are read together.
  const logger = (options.logger ?? createLogger(config.logLevel)).child({ node: config.nodeId });
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));

  // First, before touching the data dir: an unusable bucket stops start-up with one line. The
  // S3 code (and the AWS SDK) is loaded only when a bucket is configured.
  const s3 = config.s3Bucket ? await import('./sync/s3-sync.js') : undefined;
  const bucket = s3 ? await s3.connectS3Bucket(config) : undefined;
  const s3Primary = config.storage === 's3' ? await import('./storage/s3/s3-primary-store.js') : undefined;

  if (s3Primary) {
    try {
      refuseLocalFiles(config.dataDir);
    } catch (err) {
      bucket?.destroy();
      throw err;
    }
  }
  const notPrivate = ensurePrivateDataDir(config.dataDir);
  if (notPrivate.length) logger.warn({ paths: notPrivate }, 'could not make these private to this account (0700/0600)');
  // The data dir keeps its lock with PostgreSQL too: originals, processed files and uploads in
  // progress are still there, and reconciling them after a crash is this process's alone.
  const lock = acquireDataDirLock(config.dataDir);
  let database: Awaited<ReturnType<typeof openChosenDatabase>>;
  try {
    database = await openChosenDatabase(config, {
      onIdleError: (err) => logger.warn({ err }, 'a database connection failed while idle; it is replaced when next needed'),
      onMigrationNotice: (message) => logger.warn(message),
    });
  } catch (err) {
    lock.release({ uncleanUntilReconciled: lock.previousRunCrashed });
    throw err;
  }
  const sqliteConnection = database.connection;
  // The primary store: the data dir, or (--storage s3) the bucket, with only staged files here.
  const store = s3Primary && bucket ? s3Primary.createS3PrimaryStore(bucket, { stagingDir: path.join(config.dataDir, 'tmp') }) : createFsBlobStore(config.dataDir, { fsync: config.fsync });
  store.init();
  const localStore = store.placement === 'local' ? store : undefined;
  const placement = createBlobPlacement({
    store,
    database,
    clock,
    onJanitorError: (err) => logger.warn({ err }, 'could not delete a blob from the store; trying again later'),
  });

  const imagesRepo = database.repos.images;
  const jobsRepo = database.repos.jobs;
  const keys = createKeysService(database.repos.keys, clock);

  // S3 sync replicates the data dir to the bucket: with the bucket as the store there is nothing to sync.
  const sync = s3 && bucket && localStore ? s3.createS3Sync({ bucket, database, images: imagesRepo, store: localStore, clock, logger, config, tuning: options.s3 }) : undefined;
  let bootstrapKey: string | undefined;
  let linkKeys: LinkKeys;
  try {
    if (config.adminKey) await keys.ensureAdminKey(config.adminKey);
    // Links are signed with --url-signing-keys (the first signs, all verify) or, without it, with
    // the key kept in the database: generated by the first node that starts, read by the others.
    const signingKeys = config.urlSigningKeys ?? [await database.repos.linkSigningKey.ensure(crypto.randomBytes(32).toString('base64url'), clock.now())];
    linkKeys = { signing: signingKeys[0]!, verifying: signingKeys };
    bootstrapKey = await keys.bootstrapAdminKey();
    if (sync) await sync.prepare();
    else await assertNoOriginalsOnlyInBucket(database.repos.sync);
  } catch (err) {
    sync?.stop();
    await database.close();
    lock.release({ uncleanUntilReconciled: lock.previousRunCrashed });
    throw err;
  }

  const metrics = createMetrics(
    { queuedJobs: jobsRepo.countQueued, runningJobs: jobsRepo.countRunning, webhookBacklog: database.repos.webhooks.backlog },
    { node: config.nodeId },
  );
  sync?.registerMetrics(metrics.registry);
  const pool = createImagePool({ threads: config.workers });
  // "Something happened" between nodes (cluster/signals.ts): in-process on SQLite, where this
  // process is the only node; LISTEN/NOTIFY on PostgreSQL (--database-url).
  const signals = await openChosenSignals(config, logger);
  // Webhook messages: written by the lifecycle, the delete and the purge in their own units of work.
  const webhookMessages = createWebhookMessages({ maxAttempts: config.webhookRetrySchedule.length + 1 });
  const webhookResolve = options.webhookResolve ?? systemResolve;
  const lifecycle = createLifecycle({ images: imagesRepo, clock, webhooks: webhookMessages });
  const retention = createRetentionService({ database, images: imagesRepo, renders: database.repos.renders, placement, clock, webhooks: webhookMessages });
  const dispatcher = createDispatcher({ database, clock, maxAttempts: config.jobMaxAttempts });
  /**
   * Turns committed events into jobs. Called after commits that already answered (an upload's
   * 202 is out), so a busy or failing database here must not fail the caller: the events stay
   * in the outbox and are dispatched on the next try.
   */
  let dispatchRetry: NodeJS.Timeout | undefined;
  const dispatch = async () => {
    try {
      await dispatcher.dispatch();
    } catch (err) {
      logger.warn({ err }, 'could not dispatch events; trying again shortly');
      dispatchRetry ??= setTimeout(() => {
        dispatchRetry = undefined;
        wake();
      }, 2_000).unref();
    }
  };
  /** Jobs were committed: every node's runner (this one's too) looks for them now. */
  const jobsCommitted = () => signals.publish('jobs', {});
  /** New work was committed: turn events into jobs, then wake the runners. */
  const wake = () => {
    void dispatch().then(jobsCommitted);
  };
  signals.subscribe('jobs', () => {
    runner.kick();
    sync?.kick();
  });
  signals.subscribe('jobs.cancelled', ({ ids }) => runner.cancel(ids));
  lifecycle.events.on('status', (event) => {
    // Every node's event streams carry the changes made on any node.
    signals.publish('image.status', event);
    // Settled images append outbox events; dispatching them keeps the outbox short.
    setImmediate(() => void dispatch());
  });

  const ingest = createIngestPipeline({
    database,
    images: imagesRepo,
    jobs: jobsRepo,
    store,
    placement,
    clock,
    limits: { maxInputPixels: config.maxInputPixels, maxQueuedJobs: config.maxQueuedJobs, minFreeBytes: config.minFreeBytes },
    receiveLimits: { maxBytes: config.maxUploadBytes, maxInputPixels: config.maxInputPixels },
    onAccepted: wake,
    onOutcome: (outcome) => metrics.uploads.inc({ outcome }),
    onCountFailed: (err) => logger.warn({ err }, 'could not count a refused upload in statistics'),
  });
  const importer = createImportService({
    ingest,
    limits: { maxBytes: config.maxUploadBytes, maxInputPixels: config.maxInputPixels },
    dataDir: config.dataDir,
  });
  const watch = createWatchService({
    repo: database.repos.watch,
    jobs: jobsRepo,
    wake: jobsCommitted,
    jobTimeoutMs: config.jobTimeout,
    importer,
    ingest,
    clock,
    logger,
    dataDir: config.dataDir,
    flagFolders: config.watch,
    queueHasRoom: async () => (await jobsRepo.countQueued()) < config.maxQueuedJobs / 2,
    timing: options.watchTiming,
  });
  // The pool's threads, shared by image jobs and renders (jobs/work-slots.ts).
  const slots = createWorkSlots({
    threads: config.workers,
    jobsRunning: () => runner.inFlight('image'),
    jobsQueued: jobsRepo.countQueued,
    jobsDue: async () => {
      const next = await jobsRepo.nextRunAt('image');
      return next !== null && next <= clock.now();
    },
    kickRunner: () => runner.kick(),
    maxQueuedJobs: config.maxQueuedJobs,
    waitMs: config.renderWait,
    onError: (err) => logger.warn({ err }, 'could not read the job queue for a render slot'),
  });
  const runner = createJobRunner({
    repo: jobsRepo,
    nodeId: config.nodeId,
    soleNode: database.soleNode,
    // Where every node hears of new jobs (signals across processes), polling is a safety net.
    idlePollMs: signals.crossProcess ? 10_000 : undefined,
    unitOfWork: (work) => database.unitOfWork(work),
    clock,
    logger,
    queues: {
      // One image job per pool thread, less the threads renders hold (jobs/work-slots.ts).
      image: { concurrency: config.workers, timeoutMs: config.jobTimeout, mayClaim: () => slots.runnerMayClaim() },
      sync: sync?.jobs.queue,
      watch: watch.jobs.queue,
      // The purge: one at a time.
      maintenance: { concurrency: 1, timeoutMs: config.jobTimeout },
      // Webhook deliveries: fair across customers, a bound per endpoint (db/webhooks.repo.ts
      // `claim`). The receiver's time-out ends an attempt first; an attempt still out at shutdown
      // is given back and sent again at the next start.
      webhook: {
        concurrency: WEBHOOK_CONCURRENCY,
        timeoutMs: config.webhookTimeout + 5_000,
        stopGraceMs: 1_000,
        claim: (now, leaseUntil, token, node) =>
          database.repos.webhooks.claim(now, leaseUntil, token, node, { perEndpoint: WEBHOOK_PER_ENDPOINT, perCustomer: WEBHOOK_PER_CUSTOMER }),
      },
    },
    handlers: {
      ...sync?.jobs.handlers,
      ...watch.jobs.handlers,
      webhook_deliver: createDeliverWebhookHandler({
        webhooks: database.repos.webhooks,
        send: createSender({ timeoutMs: config.webhookTimeout, allowPrivate: config.webhookAllowPrivate, resolve: webhookResolve }),
        clock,
        retrySchedule: config.webhookRetrySchedule,
        onAttempt: (outcome, seconds) => {
          metrics.webhookDeliveries.inc({ outcome });
          metrics.webhookLatency.observe({ outcome }, seconds);
        },
      }),
      purge: createPurgeHandler({ retention, logger, onPurged: (n) => metrics.purged.inc(n), alsoPrune: () => webhooks.prune() }),
      process_image: createProcessImageHandler({
        images: imagesRepo,
        store,
        placement,
        pool,
        clock,
        lifecycle,
        processedTtlMs: config.processedTtl,
        maxInputPixels: config.maxInputPixels,
        maxOutputPixels: config.maxOutputPixels,
        originals: sync?.originals,
        logger,
      }),
      extract_metadata: createExtractMetadataHandler({ images: imagesRepo, store, pool, clock, lifecycle, originals: sync?.originals }),
    },
    onJobSettled: (job, outcome, seconds) => {
      if (job.queue === 'image') {
        metrics.processing.observe({ kind: job.kind, outcome }, seconds);
        // The job's thread is free once its run has left the runner's count (after this tick).
        setImmediate(() => slots.jobSettled());
      }
    },
  });

  // This node in the registry every node shares: its heartbeat carries the jobs it runs.
  const registry = createNodeRegistry({
    nodes: database.repos.nodes,
    nodeId: config.nodeId,
    version: packageVersion(),
    clock,
    logger,
    jobsRunning: () => runner.inFlight(),
    soleNode: database.soleNode,
  });

  const images = createImagesService({
    database,
    images: imagesRepo,
    jobs: jobsRepo,
    store,
    placement,
    clock,
    onChanged: wake,
    maxQueuedJobs: config.maxQueuedJobs,
    // The node running them may be another: it stops them when the signal reaches it (and, were
    // the signal lost, at its next lease renewal, which no longer finds their leases).
    onJobsCancelled: (ids) => {
      if (ids.length) signals.publish('jobs.cancelled', { ids });
    },
    expireVariant: retention.expireVariant,
    webhooks: webhookMessages,
  });
  const renders = createRenderService({
    database,
    renders: database.repos.renders,
    visible: images.visible,
    metadataOf: (id) => imagesRepo.metadata(id),
    store,
    placement,
    originals: sync?.originals ?? localOriginals(store),
    pool,
    slots,
    clock,
    processedTtlMs: config.processedTtl,
    maxInputPixels: config.maxInputPixels,
    maxOutputPixels: config.maxOutputPixels,
    renderTimeoutMs: config.jobTimeout,
    waitMs: config.renderWait,
    onAnswer: (cache) => metrics.renders.inc({ cache }),
  });
  const presets = createPresetsService({
    repo: database.repos.presets,
    clock,
    maxOutputPixels: config.maxOutputPixels,
  });
  const links = createLinksService({
    visible: (principal, id) => images.visible(principal, id),
    findImage: (id) => imagesRepo.findById(id),
    presets,
    checkRender: (principal, id, params, accept) => renders.check(principal, id, params, accept),
    keys: linkKeys,
    clock,
  });
  const webhooks = createWebhooksService({
    database,
    messages: webhookMessages,
    clock,
    hostProblem: config.webhookAllowPrivate ? async () => undefined : (host) => hostProblem(host, webhookResolve),
    wake: () => runner.kick(),
  });

  const presetLookup = (name: string, where: string) => presets.resolve(name, where);
  const uploadLimits = { maxBytes: config.maxUploadBytes, maxInputPixels: config.maxInputPixels, maxOutputPixels: config.maxOutputPixels };
  const resumable = createResumableUploads({
    // Uploads in progress live where the store is: in the bucket, any node continues them.
    parts:
      s3Primary && bucket
        ? s3Primary.createS3UploadParts(bucket, { stagingPath: () => store.stagingPath() })
        : createFsUploadParts(config.dataDir, { stagingPath: () => store.stagingPath() }),
    ingest,
    limits: uploadLimits,
    presets: presetLookup,
    clock,
    logger,
    translateError: (err) => database.translateError(err) ?? translateFileSystemError(err),
    // Nodes sharing the database lock each upload in it; one node alone needs no more than its own lock.
    leases: database.soleNode ? undefined : createUploadLeases(database.repos.uploadLocks, clock),
  });
  // One count per key across every way of uploading over HTTP (multipart, raw, tus).
  const uploadSlot = limitUploadsPerKey(config.maxUploadsPerKey);
  const events = eventsRouter((listener) => signals.subscribe('image.status', listener), { isKeyActive: async (keyId) => (await database.repos.keys.findById(keyId))?.revoked_at === null });

  const app = createApp({
    checkAnswers: options.checkAnswers,
    logger,
    database,
    metrics,
    keys,
    verifySignedLink: (imageId, query) => links.verify(imageId, query),
    readiness: {
      node: config.nodeId,
      checks: {
        database: () => database.isReachable(),
        workers: () => pool.isAlive(),
        disk: async () => (await store.freeBytes()) > config.minFreeBytes,
        ...(store.placement === 'remote' ? { storage: () => store.isReachable() } : {}),
      },
    },
    images: {
      uploadSlot,
      ingest,
      images,
      clock,
      limits: uploadLimits,
      presets: presetLookup,
      originals: sync?.downloads,
    },
    extraV1Routers: [
      sessionRouter({
        maxUploadBytes: config.maxUploadBytes,
        maxInputPixels: config.maxInputPixels,
        output: outputLimits({ maxOutputPixels: config.maxOutputPixels }),
      }),
      uploadsRouter(resumable, uploadSlot),
      events.router,
      statsRouter(createStatsService(database.repos.stats, clock)),
      importRouter({ importer, ingest, limits: uploadLimits, presets: presetLookup }),
      watchRouter(watch),
      syncRouter(sync),
      webhooksRouter(webhooks),
      nodesRouter(registry),
      renderRouter({ renders, clock, presets }),
      presetsRouter(presets),
      linksRouter(links, { publicUrl: config.publicUrl }),
    ],
    ui: createUiHandler({ dir: options.uiDir }),
    hostCheck: requireLoopbackHost({ allowedHosts: config.allowedHosts, boundAddress: () => (server.address() as AddressInfo | null)?.address }),
    rateLimit: config.rateLimit ? rateLimitPerKey(config.rateLimit) : undefined,
  });

  const server = createHttpServer(app, {
    headersTimeoutMs: config.headersTimeout,
    idleTimeoutMs: config.idleTimeout,
    maxConnections: config.maxConnections,
    maxConnectionsPerAddress: config.maxConnectionsPerAddress,
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const url = formatUrl(config.host, port);

  await registry.start();
  await dispatch();
  await runner.start();
  await watch.start();
  sync?.start(runner.kick);
  // Deletes journalled before a crash (or by a node that died) are carried out now.
  placement.janitor?.kick();
  if (s3Primary && bucket) {
    // The bucket's own clean-up: multipart uploads a crash left unfinished (a PATCH, an
    // original), and processed objects the purge somehow missed, as S3 sync sets it up.
    void s3Primary.applyLifecycleRules(bucket, config.processedTtl, AbortSignal.timeout(30_000)).then(
      (outcome) => {
        if (outcome.applied) logger.info({ rules: outcome.rules.length }, 'S3 lifecycle rules set');
        else logger.warn({ reason: outcome.reason }, 'no S3 lifecycle rules; unfinished multipart uploads stay in the bucket until removed by hand');
      },
      (err: unknown) => logger.warn({ err }, 'could not set the S3 lifecycle rules'),
    );
  }
  resumable.sweep().catch((err: unknown) => logger.error({ err }, 'sweeping resumable uploads failed'));
  const purge = schedulePurge({
    expression: config.purgeSchedule,
    database,
    clock,
    maxAttempts: config.jobMaxAttempts,
    logger,
    wake: jobsCommitted,
  });
  // After an unclean stop (the lock was left behind), files and rows are made to agree again,
  // in the background: the walk grows with the data dir (recovery/reconcile.ts).
  const reconciling = new AbortController();
  let reconcileFinished = !(lock.previousRunCrashed && localStore);
  const reconciled: Promise<ReconcileReport | undefined> = lock.previousRunCrashed && localStore
    ? reconcileDataDir({ database, store: localStore, logger, syncEnabled: sync !== undefined, signal: reconciling.signal }).then(
        (report) => {
          reconcileFinished = true;
          return report;
        },
        (err: unknown) => {
          if (!reconciling.signal.aborted) logger.error({ err }, 'reconciling the data dir failed');
          return undefined;
        },
      )
    : Promise.resolve(undefined);

  if (bootstrapKey) {
    print(`darkroom: created the first admin key (shown once, keep it): ${bootstrapKey}`);
    print(`darkroom: log in to the web UI with ${url}/#key=${bootstrapKey}`);
  }
  if (!config.fsync) print(FSYNC_OFF_NOTICE);
  for (const notice of options.notices ?? []) print(notice);
  print(`darkroom listening on ${url}`);
  logger.info({ url, dataDir: config.dataDir, database: config.databaseUrl ? 'postgresql' : 'sqlite', workers: config.workers }, 'ready');

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      logger.info('shutting down');
      purge.stop();
      clearTimeout(dispatchRetry);
      reconciling.abort();
      await reconciled;
      await watch.close();
      resumable.close();
      // Open event streams would otherwise hold the server open until the grace period ends.
      events.close();
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await runner.stop(SHUTDOWN_GRACE_MS);
      sync?.stop();
      await registry.stop();
      await placement.janitor?.stop();
      // Requests still open now (a slow upload) are cut; the client retries, nothing was stored.
      server.closeAllConnections();
      await serverClosed;
      // Renders under way finish (and record or release their claims) before their workers go.
      await renders.settle(SHUTDOWN_GRACE_MS);
      await Promise.all([pool.destroy(), endRawProbe()]);
      await signals.close();
      await database.close();
      // Stopped before the reconciliation was done: the next start does it again.
      lock.release({ uncleanUntilReconciled: !reconcileFinished });
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
    parts: {
      // The SQLite connection itself, only for the tests that look under the port.
      get db() {
        if (!sqliteConnection) throw new Error('parts.db is the SQLite connection; this server runs on PostgreSQL (--database-url)');
        return sqliteConnection;
      },
      app,
      database,
      /** The data dir's store, with its fs-only members (for tests of --storage local). */
      get store() {
        if (!localStore) throw new Error('with --storage s3 the store is parts.blobs');
        return localStore;
      },
      /** The primary store, whichever kind. */
      blobs: store,
      placement,
      keys,
      images: imagesRepo,
      jobs: jobsRepo,
      stats: database.repos.stats,
      retention,
      runner,
      dispatcher,
      lifecycle,
      clock,
      config,
      watch,
      sync,
      uploads: resumable,
      reconciled,
      webhooks,
      signals,
      registry,
      renders,
      slots,
      presets,
    },
  };
}
