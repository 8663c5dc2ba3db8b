import type { Repositories } from '../../db/repositories.js';
import { AppError } from '../../errors.js';
import type { Clock } from '../../util/clock.js';
import type { Principal } from '../keys.service.js';

/** Refusals judged on the upload itself, counted as `rejected` in statistics (docs/statistics.md). */
const REJECTIONS_IN_STATISTICS = new Set(['payload_too_large', 'unsupported_media_type', 'pixel_limit_exceeded']);

export interface OutcomeDeps {
  /** The repositories outside any unit of work: a refusal is counted on its own. */
  repos: Pick<Repositories, 'stats'>;
  clock: Clock;
  /** Counts one upload's outcome in the metrics (`darkroom_uploads_total{outcome}`). */
  onOutcome: (outcome: string) => void;
  /** A refusal could not be counted in statistics (the database busy): the refusal still answers. */
  onCountFailed?: (err: unknown) => void;
}

/**
 * The one place that counts what became of uploads, whatever their source: an accepted upload
 * (statistics count each image inside the transaction that records it, the metrics the request
 * once), a refused one (the metrics by error code, statistics' `rejected` for the refusals judged
 * on the upload's bytes).
 *
 * A refusal can pass through several hands on its way out (the receiver, the step that called
 * it, the route): the same error is counted once, however often it is reported.
 */
export function createOutcomeCounter(deps: OutcomeDeps) {
  const { repos, clock, onOutcome } = deps;
  const counted = new WeakSet<object>();

  return {
    /** Inside the accepting unit of work, with its repositories: one image recorded. */
    recorded(image: { customer: string; format: string; bytes: number }, at: number, unit: Pick<Repositories, 'stats'>): Promise<void> {
      return unit.stats.add(at, image.customer, image.format, { uploaded: 1, bytesIn: image.bytes });
    },
    /** After the commit: one upload (one request, however many files) accepted. */
    accepted() {
      onOutcome('accepted');
    },
    /** One upload refused; hands the error back to be thrown. */
    refused(principal: Principal, err: unknown): unknown {
      if (typeof err === 'object' && err !== null) {
        if (counted.has(err)) return err;
        counted.add(err);
      }
      onOutcome(err instanceof AppError ? err.code : 'error');
      if (err instanceof AppError && REJECTIONS_IN_STATISTICS.has(err.code)) {
        // Counted on the side: the caller throws the error now, and a busy database must not turn
        // the refusal's answer into a 503.
        repos.stats
          .add(clock.now(), principal.customer, err.context.format ?? 'unknown', { rejected: 1 })
          .catch((countErr: unknown) => deps.onCountFailed?.(countErr));
      }
      return err;
    },
  };
}

export type OutcomeCounter = ReturnType<typeof createOutcomeCounter>;
