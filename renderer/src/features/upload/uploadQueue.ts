import * as tus from 'tus-js-client';
import { ApiError, errorFromBody } from '../../api/client';
import type { Me, VariantSpecInput } from '../../api/schemas';
import { describeImportError, describeUploadError, type UploadProblem } from './uploadErrors';

export type UploadState = 'queued' | 'uploading' | 'done' | 'error';

/**
 * How a file reaches the server: its bytes uploaded through tus, or (in the desktop app, for a
 * file on this machine) imported by path, so that the server reads it from disk itself.
 */
export type TransferMethod = 'upload' | 'import';

export interface UploadItem {
  id: string;
  file: File;
  /** The path inside a dropped folder ("trip/day 1/a.jpg"), or just the file name. */
  path: string;
  size: number;
  method: TransferMethod;
  /** The file's path on disk, for an import. */
  localPath: string | null;
  state: UploadState;
  /** Bytes the server has (or is receiving) so far. */
  sent: number;
  /** Bytes per second, smoothed. */
  speed: number;
  /** Seconds left at the current speed. */
  eta: number | null;
  /** Where the upload picked up again when it continued an earlier one (0 if it started fresh). */
  resumedFrom: number;
  /** The connection dropped; the upload is waiting to reconnect by itself. */
  reconnecting: boolean;
  /** Waiting before trying again (the server asked to, with 429). */
  waitingUntil: number | null;
  problem: UploadProblem | null;
  imageId: string | null;
  variants: VariantSpecInput[] | null;
}

export interface UploadTotals {
  /** Every item, uploads and imports. */
  count: number;
  active: number;
  done: number;
  failed: number;
  /** Of the uploads only: imports are read from disk by the server and have no byte progress. */
  bytes: number;
  sent: number;
  speed: number;
  eta: number | null;
  /** The imports among the items: how many, how many still running, their size and that of those done. */
  imports: { count: number; active: number; bytes: number; doneBytes: number };
}

export interface UploadQueueOptions {
  key: string;
  keyId: string;
  limits: Me['limits'];
  /** Called once per finished upload with the new image's id. */
  onUploaded?: (imageId: string, item: UploadItem) => void;
  /** Imports a file by its path on disk (POST /v1/image/import); needed for items added with paths. */
  importFile?: (path: string, variants: VariantSpecInput[] | null) => Promise<{ id: string }>;
  parallel?: number;
}

/**
 * The first part of an upload is small, so that a file the server refuses after its first
 * bytes (415, 422) is refused after a round trip, not after a large part is sent; the rest go
 * in large parts, each of which the server keeps even if the connection drops half-way.
 */
const FIRST_PART_BYTES = 256 * 1024;
const PART_BYTES = 64 * 1024 * 1024;
/** Reconnect attempts spread over about ten minutes: long enough for a server restart or a Wi-Fi blip. */
const RETRY_DELAYS = [0, 1000, 2000, 3000, 5000, 8000, 13000, 20000, 30000, ...Array<number>(16).fill(30000)];
const MAX_BUSY_RETRIES = 10;
const SPEED_SMOOTHING = 0.2;

interface Running {
  /** The tus upload; none for an import, which is a single request that cannot be stopped half-way. */
  upload?: tus.Upload;
  lastBytes: number;
  lastAt: number;
  timer?: ReturnType<typeof setTimeout>;
}

let counter = 0;

/**
 * The list of uploads and their progress, outside React (components follow it with
 * useSyncExternalStore). Each file goes through tus, a few at a time; a dropped connection is
 * retried by itself and continues where the server's bytes end; a file added again after a
 * page reload continues its earlier upload.
 */
export class UploadQueue {
  private items: UploadItem[] = [];
  private readonly running = new Map<string, Running>();
  /** How often each upload was told the server is busy (429) and waited. */
  private readonly busyRetries = new Map<string, number>();
  private readonly listeners = new Set<() => void>();
  private notifyScheduled = false;
  private readonly parallel: number;

  constructor(private readonly options: UploadQueueOptions) {
    this.parallel = options.parallel ?? 3;
  }

  subscribe = (listener: () => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  snapshot = () => this.items;

  /**
   * Adds files to send. With `localPaths` (one per file, in the same order) they are imported
   * by path instead of uploaded.
   */
  add(files: Array<{ file: File; path?: string }>, variants: VariantSpecInput[] | null, localPaths?: string[]) {
    if (localPaths && (localPaths.length !== files.length || !this.options.importFile)) throw new Error('UploadQueue.add: one local path per file, and an importFile option, are needed to import');
    const added = files.map(({ file, path }, index) => ({
      id: `u${++counter}`,
      file,
      path: path ?? file.name,
      size: file.size,
      method: localPaths ? ('import' as const) : ('upload' as const),
      localPath: localPaths?.[index] ?? null,
      state: 'queued' as const,
      sent: 0,
      speed: 0,
      eta: null,
      resumedFrom: 0,
      reconnecting: false,
      waitingUntil: null,
      problem: null,
      imageId: null,
      variants,
    }));
    this.items = [...this.items, ...added];
    this.notify(true);
    this.startMore();
  }

  /** Whether the item can still be cancelled: an import can, until its request has gone out. */
  cancellable(item: UploadItem): boolean {
    if (item.state !== 'queued' && item.state !== 'uploading') return false;
    return item.method === 'upload' || item.state === 'queued';
  }

  cancel(id: string) {
    const item = this.items.find((i) => i.id === id);
    if (!item || !this.cancellable(item)) return;
    const running = this.running.get(id);
    if (running) {
      clearTimeout(running.timer);
      // Terminate: the server drops the bytes it already has.
      void running.upload?.abort(true).catch(() => {});
      this.running.delete(id);
    }
    const detail = item.method === 'import' ? 'You cancelled this import.' : 'You cancelled this upload.';
    this.update(id, { state: 'error', problem: { kind: 'cancelled', title: 'Cancelled', detail, retryable: true }, speed: 0, eta: null, reconnecting: false, waitingUntil: null });
    this.startMore();
  }

  retry(id: string) {
    const item = this.items.find((i) => i.id === id);
    if (!item || item.state !== 'error') return;
    this.busyRetries.delete(id);
    this.update(id, { state: 'queued', problem: null, sent: 0, speed: 0, eta: null });
    this.startMore();
  }

  remove(id: string) {
    const item = this.items.find((i) => i.id === id);
    if (!item) return;
    if (item.state === 'queued' || item.state === 'uploading') {
      // An import under way cannot be stopped: it stays listed until the server answers.
      if (!this.cancellable(item)) return;
      this.cancel(id);
    }
    this.items = this.items.filter((i) => i.id !== id);
    this.notify(true);
  }

  clearFinished() {
    this.items = this.items.filter((i) => i.state === 'queued' || i.state === 'uploading');
    this.notify(true);
  }

  cancelAll() {
    for (const item of this.items) if (this.cancellable(item)) this.cancel(item.id);
  }

  destroy() {
    for (const [, running] of this.running) {
      clearTimeout(running.timer);
      void running.upload?.abort(false).catch(() => {});
    }
    this.running.clear();
  }

  static totals(items: UploadItem[]): UploadTotals {
    let bytes = 0;
    let sent = 0;
    let speed = 0;
    let active = 0;
    let done = 0;
    let failed = 0;
    const imports = { count: 0, active: 0, bytes: 0, doneBytes: 0 };
    for (const item of items) {
      const isImport = item.method === 'import';
      if (isImport) imports.count++;
      if (item.state === 'error') {
        failed++;
        continue;
      }
      if (item.state === 'done') done++;
      else active++;
      if (isImport) {
        imports.bytes += item.size;
        if (item.state === 'done') imports.doneBytes += item.size;
        else imports.active++;
        continue;
      }
      bytes += item.size;
      sent += item.state === 'done' ? item.size : item.sent;
      if (item.state === 'uploading') speed += item.speed;
    }
    return { count: items.length, active, done, failed, bytes, sent, speed, eta: speed > 0 ? (bytes - sent) / speed : null, imports };
  }

  private startMore() {
    for (const item of this.items) {
      if (this.running.size >= this.parallel) return;
      if (item.state === 'queued' && !this.running.has(item.id) && (item.waitingUntil === null || item.waitingUntil <= Date.now())) {
        this.start(item);
      }
    }
  }

  private start(item: UploadItem) {
    if (item.method === 'import') this.startImport(item);
    else this.startUpload(item);
  }

  /**
   * One request per file, so each file gets its own answer: a batch import is refused as a
   * whole when one path is, and one unreadable file must not hold back the others. No byte
   * progress: the server reads the file from disk, which is the point.
   */
  private startImport(item: UploadItem) {
    const id = item.id;
    const running: Running = { lastBytes: 0, lastAt: performance.now() };
    this.running.set(id, running);
    this.update(id, { state: 'uploading', waitingUntil: null, problem: null }, true);
    this.options.importFile!(item.localPath!, item.variants).then(
      (record) => {
        if (this.running.get(id) !== running) return;
        this.finish(id, item, record.id);
      },
      (err: unknown) => {
        if (this.running.get(id) !== running) return;
        this.fail(id, item, running, err instanceof ApiError ? err : errorFromBody(0, ''));
      },
    );
  }

  private finish(id: string, item: UploadItem, imageId: string | null) {
    this.running.delete(id);
    this.update(id, { state: 'done', sent: item.size, speed: 0, eta: 0, reconnecting: false, problem: null, imageId }, true);
    const done = this.items.find((i) => i.id === id);
    if (imageId && done) this.options.onUploaded?.(imageId, done);
    this.startMore();
  }

  /** A refused or failed transfer: waits and tries again when the server is busy (429), else ends in error. */
  private fail(id: string, item: UploadItem, running: Running, error: ApiError) {
    const describe = item.method === 'import' ? describeImportError : describeUploadError;
    const busy = this.busyRetries.get(id) ?? 0;
    if (error.status === 429 && busy < MAX_BUSY_RETRIES) {
      this.busyRetries.set(id, busy + 1);
      const wait = Math.max(1, error.retryAfterSeconds ?? 10) * 1000;
      const until = Date.now() + wait;
      this.update(id, { state: 'queued', waitingUntil: until, speed: 0, eta: null, reconnecting: false, problem: describe(error, item, this.options.limits) });
      running.timer = setTimeout(() => {
        this.running.delete(id);
        this.update(id, { waitingUntil: null });
        this.start(this.items.find((i) => i.id === id)!);
      }, wait);
      return;
    }
    this.running.delete(id);
    this.update(id, { state: 'error', speed: 0, eta: null, reconnecting: false, waitingUntil: null, problem: describe(error, item, this.options.limits) }, true);
    this.startMore();
  }

  private startUpload(item: UploadItem) {
    const id = item.id;
    const metadata: Record<string, string> = { filename: item.file.name, filetype: item.file.type || 'application/octet-stream' };
    if (item.variants) metadata.variants = JSON.stringify(item.variants);
    const running: Running = { lastBytes: 0, lastAt: performance.now() };

    const upload = new tus.Upload(item.file, {
      endpoint: `${window.location.origin}/v1/uploads`,
      headers: { Authorization: `Bearer ${this.options.key}` },
      metadata,
      chunkSize: FIRST_PART_BYTES,
      retryDelays: RETRY_DELAYS,
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      // One key's unfinished uploads are not offered to another key signed in on this browser.
      fingerprint: async (file, options) =>
        ['darkroom', this.options.keyId, file.name, file.type, file.size, file.lastModified, options.endpoint].join('-'),
      onShouldRetry: (err, attempt) => {
        const status = err.originalResponse?.getStatus() ?? 0;
        // Dropped connections, restarts (503) and lock races heal by themselves; a full disk (507)
        // does not, so the person decides when to retry.
        const retry = status === 0 || (status >= 500 && status !== 507) || status === 409 || status === 423;
        if (retry) this.update(id, { reconnecting: true, speed: 0, eta: null, problem: retryingProblem(attempt) });
        return retry;
      },
      onAfterResponse: (req, res) => {
        // A HEAD is how tus learns where an earlier upload stopped: show that it continues there.
        if (req.getMethod() === 'HEAD' && res.getStatus() === 200) {
          const offset = Number(res.getHeader('Upload-Offset'));
          if (offset > 0) this.update(id, { resumedFrom: offset, sent: offset });
        }
      },
      onChunkComplete: () => {
        upload.options.chunkSize = PART_BYTES;
      },
      onProgress: (sent, total) => {
        const now = performance.now();
        const dt = (now - running.lastAt) / 1000;
        const current = this.items.find((i) => i.id === id);
        if (!current) return;
        let speed = current.speed;
        if (dt >= 0.25) {
          const instant = Math.max(0, sent - running.lastBytes) / dt;
          speed = speed === 0 ? instant : speed + SPEED_SMOOTHING * (instant - speed);
          running.lastAt = now;
          running.lastBytes = sent;
        }
        this.update(id, {
          sent,
          speed,
          eta: speed > 0 ? (total - sent) / speed : null,
          reconnecting: false,
          problem: null,
        });
      },
      onSuccess: ({ lastResponse }) => {
        this.finish(id, item, lastResponse.getHeader('Darkroom-Image-Id') ?? null);
      },
      onError: (err) => {
        if (!this.running.has(id)) return;
        // The server is busy (429): wait as long as it asks, then try again by itself.
        this.fail(id, item, running, toApiError(err));
      },
    });
    running.upload = upload;
    this.running.set(id, running);
    this.update(id, { state: 'uploading', waitingUntil: null }, true);

    upload
      .findPreviousUploads()
      .then((previous) => {
        if (!this.running.has(id)) return;
        const earlier = previous.find((p) => p.uploadUrl);
        if (earlier) upload.resumeFromPreviousUpload(earlier);
        upload.start();
      })
      .catch(() => upload.start());
  }

  private update(id: string, patch: Partial<UploadItem>, immediate = false) {
    let changed = false;
    this.items = this.items.map((item) => {
      if (item.id !== id) return item;
      changed = true;
      return { ...item, ...patch };
    });
    if (changed) this.notify(immediate);
  }

  /** Progress events arrive many times a second per file; the screen needs them once a frame. */
  private notify(immediate = false) {
    if (immediate) {
      for (const listener of this.listeners) listener();
      return;
    }
    if (this.notifyScheduled) return;
    this.notifyScheduled = true;
    setTimeout(() => {
      this.notifyScheduled = false;
      for (const listener of this.listeners) listener();
    }, 100);
  }
}

function retryingProblem(attempt: number): UploadProblem {
  return {
    kind: 'reconnecting',
    title: 'Connection lost',
    detail: attempt === 0 ? 'Reconnecting… the upload continues where it stopped.' : `Reconnecting (attempt ${attempt + 1})… the upload continues where it stopped.`,
    retryable: false,
  };
}

function toApiError(err: Error | tus.DetailedError): ApiError {
  const detailed = err as tus.DetailedError;
  const res = detailed.originalResponse;
  if (res) return errorFromBody(res.getStatus(), res.getBody() ?? '', res.getHeader('Retry-After'));
  return errorFromBody(0, '');
}
