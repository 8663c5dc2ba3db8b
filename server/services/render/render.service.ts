import crypto from 'node:crypto';
import fs from 'node:fs';
import type { DatabasePort } from '../../db/port.js';
import type { ImageRow } from '../../db/images.repo.js';
import type { RendersRepo } from '../../db/renders.repo.js';
import { AppError } from '../../errors.js';
import { EXTENSIONS, MIME_TYPES, keepsAnimation } from '../../media/formats.js';
import { probeAlpha } from '../../media/probe.js';
import { isBlobNotFound, type OpenedBlob, type PrimaryBlobStore } from '../../storage/blob-store.js';
import type { OriginalSource } from '../../storage/original-source.js';
import type { Clock } from '../../util/clock.js';
import type { ProcessResult, ProcessTask } from '../../../workers/types.js';
import type { BlobPlacement } from '../blob-placement.js';
import type { Principal } from '../keys.service.js';
import { resolveRender, type RenderParams, type RenderSource, type ResolvedRender } from './render-request.js';

/** The worker pool as a render uses it (jobs/pool.ts). */
export interface RenderPool {
  processImage(task: Omit<ProcessTask, 'cancel'>, signal?: AbortSignal): Promise<ProcessResult>;
}

/** The shared worker slots (jobs/work-slots.ts): fair across customers, bounded. */
export interface RenderSlots {
  acquire(customer: string): Promise<() => void>;
}

export interface RenderDeps {
  database: Pick<DatabasePort, 'unitOfWork'>;
  renders: RendersRepo;
  /** The image if this principal may see it (another customer's is a 404): the images service's `visible`. */
  visible: (principal: Principal, id: string) => Promise<ImageRow>;
  /** The image's extracted metadata, when extracted (its orientation, its alpha). */
  metadataOf: (id: string) => Promise<Record<string, unknown> | undefined>;
  store: PrimaryBlobStore;
  placement: BlobPlacement;
  originals: OriginalSource;
  pool: RenderPool;
  slots: RenderSlots;
  clock: Clock;
  processedTtlMs: number;
  maxInputPixels: number;
  maxOutputPixels: number;
  /** A render running longer is stopped (--job-timeout, as a job). */
  renderTimeoutMs: number;
  /** --render-wait: how long a request waits for an identical one another node renders. */
  waitMs: number;
  /** Counted per answer: `hit` served from the stored file, `miss` rendered here, `shared` waited for an identical request's render. */
  onAnswer?: (cache: 'hit' | 'miss' | 'shared') => void;
}

/** What a render request comes to. */
export type RenderOutcome =
  | { kind: 'not_modified'; render: ResolvedRender }
  | {
      kind: 'file';
      render: ResolvedRender;
      /** The stored render, open: whole whatever happens to its key from now on. The caller closes it. */
      blob: OpenedBlob;
      contentType: string;
      /** `hit`: it was stored before this request; `miss`: this request waited for its render. */
      cache: 'hit' | 'miss';
      expiresAt: number;
    };

/** How long a claim on a render lasts before another node may take it over; renewed while it runs. */
const CLAIM_MS = 30_000;
const RENEW_EVERY_MS = 10_000;
/** How often a request waiting for another node's render looks whether it is stored. */
const POLL_MS = 25;
/** Originals whose alpha was read from their header, before their metadata was extracted. */
const ALPHA_MEMO_MAX = 10_000;

/**
 * `GET /v1/image/{id}/render` as a use case (CONTRACT §10): resolves the request (without
 * rendering: the ETag is known before any pixel), answers from the stored render when there is
 * one, and otherwise renders once, however many identical requests arrive together on however
 * many nodes: in this process one promise per cache key; across nodes the renders row as a
 * claim, which the others wait on (services/render/render-request.ts names the key).
 */
export function createRenderService(deps: RenderDeps) {
  const { database, renders, store, placement, clock } = deps;
  /** In-process single flight: the render of each key under way here. */
  const flights = new Map<string, Promise<void>>();
  const alphaMemo = new Map<string, boolean>();

  async function sourceOf(row: ImageRow): Promise<RenderSource> {
    const metadata = (await deps.metadataOf(row.id)) as { orientation?: number | null; hasAlpha?: boolean | null } | undefined;
    // A camera RAW renders from its embedded preview, whose (upright) size is known once it was
    // processed; until then its recorded size stands for it.
    if (row.preview_width && row.preview_height) {
      return sourceOfSize(row, row.preview_width, row.preview_height, metadata);
    }
    // Orientations 5–8 turn the image a quarter: it displays with its sides swapped.
    const turned = (metadata?.orientation ?? 1) >= 5;
    return sourceOfSize(row, turned ? row.height : row.width, turned ? row.width : row.height, metadata);
  }

  function sourceOfSize(row: ImageRow, width: number, height: number, metadata: { hasAlpha?: boolean | null } | undefined): RenderSource {
    const animated = keepsAnimation(row, deps.maxInputPixels);
    return {
      id: row.id,
      sha256: row.sha256,
      width,
      height,
      frames: animated ? row.pages : 1,
      hasAlpha: async () => {
        if (typeof metadata?.hasAlpha === 'boolean') return metadata.hasAlpha;
        const known = alphaMemo.get(row.sha256);
        if (known !== undefined) return known;
        const original = await deps.originals.acquire(row.sha256);
        try {
          const alpha = await probeAlpha(original.path, row.format).catch(() => false);
          if (alphaMemo.size >= ALPHA_MEMO_MAX) alphaMemo.clear();
          alphaMemo.set(row.sha256, alpha);
          return alpha;
        } finally {
          original.release();
        }
      },
    };
  }

  /** The stored render of `key`, open, or undefined (none, expired, or its file gone: then its row goes). */
  async function openStored(key: string): Promise<{ blob: OpenedBlob; expiresAt: number } | undefined> {
    const row = await renders.find(key);
    if (row?.status !== 'done' || !row.path || row.expires_at === null || row.expires_at <= clock.now()) return undefined;
    try {
      const blob = await store.open(row.path);
      // A file cut short (a power cut before its bytes reached the disk) is not the render.
      if (blob.size !== row.bytes) {
        await blob.close();
        await renders.forget(key, row.path);
        return undefined;
      }
      return { blob, expiresAt: row.expires_at };
    } catch (err) {
      if (!isBlobNotFound(err)) throw err;
      // Purged (or lost) since the row was read: rendered again.
      await renders.forget(key, row.path);
      return undefined;
    }
  }

  /** Renders `key` unless another node is (then waits for it, up to --render-wait); resolves once it is stored. */
  async function produce(row: ImageRow, render: ResolvedRender): Promise<'rendered' | 'shared'> {
    // On the monotonic clock: the wall clock (an injected one in tests) may stand still or jump.
    const giveUpAt = performance.now() + deps.waitMs;
    for (;;) {
      const token = crypto.randomUUID();
      const now = clock.now();
      if (await renders.claim({ key: render.key, imageId: row.id, format: render.format, token, until: now + CLAIM_MS }, now)) {
        await renderAndStore(row, render, token);
        return 'rendered';
      }
      const current = await renders.find(render.key);
      if (current?.status === 'done' && current.expires_at !== null && current.expires_at > clock.now()) return 'shared';
      if (performance.now() >= giveUpAt) {
        const seconds = Math.max(1, Math.ceil(deps.waitMs / 1000));
        throw new AppError('unavailable', `an identical render on another node took longer than ${seconds} s (--render-wait); try again shortly`, { 'Retry-After': String(seconds) });
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  async function renderAndStore(row: ImageRow, render: ResolvedRender, token: string): Promise<void> {
    let stored = false;
    const renew = setInterval(() => void renders.renew(render.key, token, clock.now() + CLAIM_MS).catch(() => {}), RENEW_EVERY_MS);
    renew.unref();
    const output = store.stagingPath(`.${EXTENSIONS[render.format]}`);
    const scratch = store.stagingPath('.tif');
    try {
      const release = await deps.slots.acquire(row.customer);
      let result: ProcessResult;
      try {
        const original = await deps.originals.acquire(row.sha256);
        try {
          result = await deps.pool.processImage({
            input: original.path,
            format: row.format,
            animated: keepsAnimation(row, deps.maxInputPixels),
            maxInputPixels: deps.maxInputPixels,
            maxOutputPixels: deps.maxOutputPixels,
            scratch,
            variants: [{ spec: { name: 'render', ...render.spec }, output }],
            summary: false,
            deadline: Date.now() + deps.renderTimeoutMs,
          });
        } finally {
          original.release();
        }
      } finally {
        release();
      }
      if (!result.ok) throw failureOf(result.code, result.message);
      deps.onAnswer?.('miss');
      const made = result.variants[0]!;
      const key = placement.processedKey(row.id, `r-${render.key}`, EXTENSIONS[render.format]);
      // A cache: not flushed (a stored render cut short by a power cut fails the size check in
      // openStored and is made again), which keeps a flush per render off its answer.
      const prepared = await placement.prepare([{ file: output, key, sha256: made.sha256 }], undefined, { durable: false });
      const now = clock.now();
      stored = await database.unitOfWork(async (repos) => {
        const before = await repos.renders.find(render.key);
        // The claim was lost meanwhile: the image was reprocessed or deleted (its rows went), or
        // another node took the claim over. What was made is not kept.
        if (!(await repos.renders.complete(render.key, token, { path: key, bytes: made.bytes, writtenAt: now, expiresAt: now + deps.processedTtlMs }))) {
          await placement.discard(prepared, repos);
          return false;
        }
        await placement.place(prepared, repos);
        // A render taken over from an expired row replaces its file.
        if (before?.path && before.path !== key) await placement.remove(before.path, repos);
        return true;
      });
      placement.afterCommit();
      if (!stored) throw new AppError('unavailable', 'the image changed while it was rendered; try again', { 'Retry-After': '1' });
    } finally {
      clearInterval(renew);
      if (!stored) await renders.release(render.key, token).catch(() => {});
      await Promise.all([output, scratch, `${scratch}.source`].map((file) => fs.promises.rm(file, { force: true })));
    }
  }

  return {
    /**
     * Whether `principal` may ask for this render and it would be made: the image visible to it
     * (404), the parameters together and the output caps against the image's size (400), as
     * `render` would judge them, without rendering. For a signed link, before it is handed out.
     */
    async check(principal: Principal, imageId: string, params: RenderParams, accept: string | undefined): Promise<void> {
      const row = await deps.visible(principal, imageId);
      await resolveRender(params, await sourceOf(row), accept, deps.maxOutputPixels);
    },

    /**
     * Resolves once the renders under way here have ended (stored or failed), or after `graceMs`:
     * at shutdown, before the worker pool goes, so a render's claim is completed or released
     * rather than left for other nodes to wait out its lease.
     */
    async settle(graceMs: number): Promise<void> {
      const running = [...flights.values()].map((f) => f.catch(() => {}));
      if (!running.length) return;
      await Promise.race([Promise.all(running), new Promise((resolve) => setTimeout(resolve, graceMs).unref())]);
    },

    /**
     * Answers one render request: `principal` must see the image (another customer's is a 404),
     * `params` are the request's parameters, already checked one by one (`RenderQuery`) and,
     * where a preset or a signed link supplies some, merged (the ones given override); `accept`
     * is the request's Accept (for `format=auto`); `ifNoneMatch` its If-None-Match.
     */
    async render(principal: Principal, imageId: string, params: RenderParams, accept: string | undefined, ifNoneMatch?: string): Promise<RenderOutcome> {
      const row = await deps.visible(principal, imageId);
      const render = await resolveRender(params, await sourceOf(row), accept, deps.maxOutputPixels);
      if (ifNoneMatch && matchesEtag(ifNoneMatch, render.etag)) return { kind: 'not_modified', render };
      const contentType = MIME_TYPES[render.format];
      const hit = await openStored(render.key);
      if (hit) {
        deps.onAnswer?.('hit');
        return { kind: 'file', render, contentType, cache: 'hit', ...hit };
      }
      let flight = flights.get(render.key);
      let leader = false;
      if (!flight) {
        leader = true;
        flight = produce(row, render).then((how) => {
          if (how === 'shared') deps.onAnswer?.('shared');
        });
        flights.set(render.key, flight);
        void flight.finally(() => flights.delete(render.key)).catch(() => {});
      }
      await flight;
      if (!leader) deps.onAnswer?.('shared');
      const stored = await openStored(render.key);
      // Stored a moment ago, and gone already: a reprocess or a delete came in between.
      if (!stored) throw new AppError('unavailable', 'the image changed while it was rendered; try again', { 'Retry-After': '1' });
      return { kind: 'file', render, contentType, cache: 'miss', ...stored };
    },
  };
}

export type RenderService = ReturnType<typeof createRenderService>;

/** A worker's failure as the API's error: an original that cannot be decoded is 422 (CONTRACT §10). */
function failureOf(code: string, message: string): AppError {
  switch (code) {
    case 'corrupt_image':
      return new AppError('corrupt_image', `the original cannot be decoded: ${message}`);
    case 'no_preview':
      return new AppError('no_preview', message);
    case 'original_missing':
      return new AppError('not_found', `the original is missing from the store: ${message}`);
    case 'processing_timeout':
      return new AppError('unavailable', `the render took too long: ${message}`, { 'Retry-After': '30' });
    default:
      return new AppError('internal_error', `the render failed: ${message}`);
  }
}

/** If-None-Match against our strong ETag: `*`, or a list naming it (weak comparison, RFC 9110 §13.1.2). */
function matchesEtag(header: string, etag: string): boolean {
  if (header.trim() === '*') return true;
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag);
}
