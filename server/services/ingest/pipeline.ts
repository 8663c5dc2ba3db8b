import type { Readable } from 'node:stream';
import type { VariantSpec } from '../../../workers/types.js';
import type { ImageRecord } from '../image-record.js';
import type { Principal } from '../keys.service.js';
import { receiveToTempFile, type ReceivedFile, type ReceiveLimits, type ReceiveOptions } from '../receive.js';
import { createAcceptStep, type AcceptDeps, type AcceptHooks, type UploadSource } from './accept.js';
import { createOutcomeCounter } from './outcomes.js';

export type { AcceptHooks, UploadSource } from './accept.js';
export type { ReceivedFile, ReceiveLimits } from '../receive.js';

export interface IngestPipelineDeps extends Omit<AcceptDeps, 'onRecorded'> {
  /** Limits of the bytes received (--max-upload-bytes, --max-input-pixels). */
  receiveLimits: ReceiveLimits;
  /** Counts one upload's outcome in the metrics (`darkroom_uploads_total{outcome}`). */
  onOutcome: (outcome: string) => void;
  /** A refusal could not be counted in statistics (the database busy): the refusal still answers. */
  onCountFailed?: (err: unknown) => void;
}

export interface AcceptOptions {
  source: UploadSource;
  variants: VariantSpec[];
  /**
   * Refusals after which the same upload will be tried again (a watch folder's file when the disk
   * has room again): not its outcome, so not counted.
   */
  retriedOn?: ReadonlySet<string>;
}

/**
 * The one way in for an image, whatever its source (multipart or raw HTTP body, tus, import by
 * path, watch folder), in three steps:
 *
 * 1. `admit`: refusals that cost nothing, before a byte is read (a full queue, a full disk);
 * 2. `receive`: one file's bytes streamed into the store's staging area, judged on the way
 *    (sniffed, sized, pixel-limited) and hashed;
 * 3. `accept`: the received files become images in one unit of work (group commit), or are all
 *    refused.
 *
 * It counts every upload's outcome, once, in statistics and metrics (outcomes.ts): a source
 * reports a refusal of its own making (bad variants, an unexpected form field) with `refused`,
 * and never counts anything itself.
 */
export function createIngestPipeline(deps: IngestPipelineDeps) {
  const outcomes = createOutcomeCounter({
    repos: deps.database.repos,
    clock: deps.clock,
    onOutcome: deps.onOutcome,
    onCountFailed: deps.onCountFailed,
  });
  const step = createAcceptStep({ ...deps, onRecorded: outcomes.recorded });

  async function admit(principal: Principal, declaredBytes?: number): Promise<void> {
    try {
      await step.admit(declaredBytes);
    } catch (err) {
      throw outcomes.refused(principal, err);
    }
  }

  /** Streams one file into a fresh staging file; on failure nothing of it stays. */
  function receive(source: Readable, name: string, options: ReceiveOptions & { limits?: ReceiveLimits } = {}): Promise<ReceivedFile> {
    return receiveToTempFile(source, deps.store.stagingPath(), name, options.limits ?? deps.receiveLimits, options);
  }

  async function accept(principal: Principal, received: ReceivedFile[], options: AcceptOptions, hooks?: AcceptHooks): Promise<ImageRecord[]> {
    let images: ImageRecord[];
    try {
      images = await step.accept(received, principal, options.variants, options.source, hooks);
    } catch (err) {
      const code = (err as { code?: unknown })?.code;
      if (typeof code === 'string' && options.retriedOn?.has(code)) throw err;
      throw outcomes.refused(principal, err);
    }
    outcomes.accepted();
    return images;
  }

  return {
    admit,
    receive,
    accept,
    /** Counts a refusal the source made itself (or one it got from a step: counted once); hands the error back to be thrown. */
    refused: outcomes.refused,
  };
}

export type IngestPipeline = ReturnType<typeof createIngestPipeline>;
