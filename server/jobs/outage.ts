import type { Logger } from 'pino';

/** Outage times are the wall clock's: waiting for a service happens in real time, whatever clock the queue's schedule uses. */
export interface Outage {
  since: number;
  lastError: string;
  nextProbeAt: number;
}

export interface OutageTiming {
  /** First wait before asking an unreachable service again; doubles up to `probeMaxMs`. */
  probeMinMs: number;
  probeMaxMs: number;
}

/**
 * The outage pause of a queue whose jobs need an outside service (the S3 bucket). A failure
 * that could be the service's as a whole is checked with a probe (a HEAD of the bucket); if the
 * probe fails too, the service is down: the attempt does not count, the queue claims nothing,
 * and the service is asked again after `probeMinMs`, doubling up to `probeMaxMs`. When it
 * answers, `onRecovered` listeners run (the engine claims the backlog at once).
 */
export function createOutagePause(deps: {
  probe: (signal: AbortSignal) => Promise<void>;
  describe: (err: unknown) => string;
  timing: OutageTiming;
  logger: Logger;
  messages: { down: string; up: string };
  probeTimeoutMs?: number;
}) {
  const { timing, logger } = deps;
  let outage: (Outage & { delay: number }) | undefined;
  let probing: Promise<boolean> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const recovered = new Set<() => void>();

  /** Asks the service whether it answers; one question at a time, shared by whoever asks. */
  function probe(): Promise<boolean> {
    probing ??= deps
      .probe(AbortSignal.timeout(deps.probeTimeoutMs ?? 10_000))
      .then(
        () => {
          const was = outage;
          outage = undefined;
          clearTimeout(timer);
          if (was) {
            logger.info({ downForMs: Date.now() - was.since }, deps.messages.up);
            for (const listener of recovered) listener();
          }
          return true;
        },
        (err: unknown) => {
          if (!outage) {
            outage = { since: Date.now(), lastError: deps.describe(err), delay: timing.probeMinMs, nextProbeAt: 0 };
            logger.warn({ err: outage.lastError }, deps.messages.down);
            scheduleProbe();
          } else {
            outage.lastError = deps.describe(err);
          }
          return false;
        },
      )
      .finally(() => {
        probing = undefined;
      });
    return probing;
  }

  function scheduleProbe() {
    clearTimeout(timer);
    if (!outage || stopped) return;
    outage.nextProbeAt = Date.now() + outage.delay;
    // Only the scheduled look lengthens the pause when it fails: the jobs that were running when
    // the service went away each ask too, and must not push the next look out at once.
    timer = setTimeout(() => {
      void probe().then((up) => {
        if (up || !outage) return;
        outage.delay = Math.min(outage.delay * 2, timing.probeMaxMs);
        scheduleProbe();
      });
    }, outage.delay);
    timer.unref();
  }

  return {
    /** True while the service is known to be down: claim nothing that needs it. */
    isDown: () => outage !== undefined,
    /**
     * A job failed in a way that could be the service's: is the service down? (Probes it.)
     * True means the attempt was no fault of the job's.
     */
    confirm: async (): Promise<boolean> => !(await probe()),
    onRecovered(listener: () => void) {
      recovered.add(listener);
    },
    state: (): Outage | undefined => (outage ? { since: outage.since, lastError: outage.lastError, nextProbeAt: outage.nextProbeAt } : undefined),
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

export type OutagePause = ReturnType<typeof createOutagePause>;
