import type { JobRow } from '../../db/jobs.repo.js';
import type { WebhooksRepo } from '../../db/webhooks.repo.js';
import type { Clock } from '../../util/clock.js';
import type { Sender } from '../../webhooks/sender.js';
import { signedHeaders } from '../../webhooks/signing.js';
import { JobError, type JobHandler } from '../runner.js';

/** How an attempt ended, for metrics: delivered, to be retried, failed for good, or the endpoint gone (410). */
export type AttemptOutcome = 'delivered' | 'retry' | 'failed' | 'gone';

export interface DeliverWebhookDeps {
  webhooks: WebhooksRepo;
  send: Sender;
  clock: Clock;
  /** --webhook-retry-schedule: the wait before each retry, in ms. */
  retrySchedule: readonly number[];
  random?: () => number;
  onAttempt?: (outcome: AttemptOutcome, seconds: number) => void;
}

const deliveryOf = (job: JobRow) => (JSON.parse(job.payload) as { deliveryId: string }).deliveryId;

/** A step of the schedule, give or take a fifth, so a batch that failed together is not retried together. */
export function jittered(ms: number, random = Math.random): number {
  return Math.round(ms * (0.8 + 0.4 * random()));
}

/**
 * Sends one delivery (a `webhook_deliver` job): its message's stored body, signed now with the
 * endpoint's secret (and the previous one during a rotation's overlap), under the message id.
 * 2xx delivers it. 410 fails it (and the endpoint's other pending ones) and disables the endpoint. Anything else (another status, a
 * redirect, a time-out, a refused connection, an address that may not be called) is retried
 * after the schedule's next step, jittered; after the last, the delivery fails. The job is
 * durable: a kill -9 during an attempt runs it again at the next start (at least once).
 */
export function createDeliverWebhookHandler(deps: DeliverWebhookDeps): JobHandler {
  const { webhooks, clock } = deps;
  const random = deps.random ?? Math.random;

  return {
    async run(ctx) {
      const deliveryId = deliveryOf(ctx.job);
      const found = await webhooks.toSend(deliveryId);
      // Removed with its endpoint, or ended by a retry's other job: nothing to send.
      if (!found || found.delivery.status !== 'pending') {
        await ctx.complete(() => {});
        return;
      }
      const { delivery, message, endpoint } = found;
      if (!endpoint.enabled) {
        await ctx.complete((repos) => repos.webhooks.markFailed(deliveryId, `not sent: the endpoint is disabled (${endpoint.disabled_reason ?? 'disabled'})`));
        return;
      }
      const now = clock.now();
      const secrets = [endpoint.secret];
      if (endpoint.previous_secret && endpoint.previous_secret_until !== null && endpoint.previous_secret_until > now) secrets.push(endpoint.previous_secret);
      const headers = signedHeaders({ id: message.id, body: message.payload, secrets, now });
      const result = await deps.send(endpoint.url, message.payload, headers, ctx.signal);
      // Stopped (shutdown, time limit): the runner gives the job back or retries it.
      if (ctx.signal.aborted) throw ctx.signal.reason;
      const attempts = delivery.attempts + 1;
      const seconds = result.ms / 1000;

      if (result.status !== null && result.status >= 200 && result.status < 300) {
        const status = result.status;
        await ctx.complete((repos) => repos.webhooks.markDelivered(deliveryId, clock.now(), { attempts, last_status: status, last_error: null, next_attempt_at: null }));
        deps.onAttempt?.('delivered', seconds);
        return;
      }
      const error = result.status === null ? result.error : `answered ${result.status}`;
      if (result.status === 410) {
        await ctx.complete(async (repos) => {
          await repos.webhooks.recordAttempt(deliveryId, { attempts, last_status: 410, last_error: 'answered 410 Gone: the endpoint is disabled', next_attempt_at: null });
          await repos.webhooks.markFailed(deliveryId, null);
          const current = await repos.webhooks.findEndpoint(endpoint.id);
          if (current?.enabled) await repos.webhooks.saveEndpoint({ ...current, enabled: 0, disabled_reason: 'it answered 410 Gone', updated_at: clock.now() });
          // The receiver said it is gone for good: its other deliveries end now too, rather than
          // each calling it once more (and waiting "pending" until then).
          await repos.webhooks.failPending(endpoint.id, 'not sent: the endpoint answered 410 Gone and was disabled');
        });
        deps.onAttempt?.('gone', seconds);
        return;
      }
      const step = deps.retrySchedule[Math.min(ctx.job.attempts - 1, deps.retrySchedule.length - 1)];
      const retryIn = ctx.job.attempts < ctx.job.max_attempts && step !== undefined ? jittered(step, random) : undefined;
      let stillPending = false;
      await ctx.whileOwned(async (repos) => {
        stillPending = await repos.webhooks.recordAttempt(deliveryId, { attempts, last_status: result.status, last_error: error, next_attempt_at: retryIn === undefined ? null : clock.now() + retryIn });
      });
      // Ended while this attempt was in flight (its endpoint disabled or removed): nothing to
      // retry. Retrying would leave a job behind that no claim takes (its endpoint is gone).
      if (!stillPending) {
        await ctx.complete(() => {});
        return;
      }
      deps.onAttempt?.(retryIn === undefined ? 'failed' : 'retry', seconds);
      throw new JobError(error, 'webhook_not_delivered', retryIn !== undefined, { retryInMs: retryIn });
    },
    async giveUp(job, _error, repos) {
      await repos.webhooks.markFailed(deliveryOf(job), null);
      await repos.webhooks.removeJob(job.id);
    },
  };
}
