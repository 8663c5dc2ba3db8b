/**
 * The side of a limited process (workers/limited-child.ts starts one per task) that runs in the
 * process: it takes one task, watches its own memory and CPU time while the task runs, and ends
 * itself past the limits it was given; on Linux the kernel also refuses it memory past the same
 * limit (RLIMIT_DATA, set by the parent). One task, then the process exits, giving back all it grew.
 */
import fs from 'node:fs';
import type { ChildMessage, ChildRequest } from './limited-child.js';

/** How often the watchdog looks: fast enough that memory cannot run far past the limit between looks. */
const WATCH_EVERY_MS = 5;

const peakRss = () => process.resourceUsage().maxRSS * 1024;
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return Math.round((user + system) / 1000);
};

/** Serves one task in this process: call once, at the top of the process's module. */
export function serveLimitedTask<T, R>(run: (task: T) => Promise<R>): void {
  const send = (message: ChildMessage<R>) => new Promise<void>((resolve) => process.send!(message, () => resolve()));
  // Under memory pressure the kernel ends this process rather than the server that started it.
  if (process.platform === 'linux') {
    try {
      fs.writeFileSync('/proc/self/oom_score_adj', '1000');
    } catch {
      // Not writable in some sandboxes; the limits still hold.
    }
  }
  // The server is gone (or stopped the task): nothing will read the result.
  const orphaned = () => process.kill(process.pid, 'SIGKILL');
  process.on('disconnect', orphaned);
  process.once('message', (request: ChildRequest<T>) => void serve(request));
  void send({ kind: 'ready' });

  async function serve({ limits, task }: ChildRequest<T>): Promise<void> {
    let over = false;
    const watchdog = setInterval(() => {
      const rss = process.memoryUsage.rss();
      const cpu = cpuMs();
      const limit = rss > limits.memoryBytes ? 'memory' : cpu > limits.cpuMs ? 'cpu' : undefined;
      if (!limit || over) return;
      over = true;
      // The task may not be interruptible: the process ends, once the parent has the reason.
      void send({ kind: 'limit', limit, peakRss: Math.max(rss, peakRss()), cpuMs: cpu }).then(() => process.kill(process.pid, 'SIGKILL'));
    }, WATCH_EVERY_MS);

    try {
      const result = await run(task);
      clearInterval(watchdog);
      if (over) return;
      await send({ kind: 'done', result, peakRss: peakRss(), cpuMs: cpuMs() });
    } catch (err) {
      clearInterval(watchdog);
      if (over) return;
      await send({ kind: 'failed', message: String((err as Error)?.message ?? err), peakRss: peakRss(), cpuMs: cpuMs() });
    }
    process.off('disconnect', orphaned);
    process.exit(0);
  }
}

/**
 * Serves tasks one after another in this process (workers/limited-child.ts `createWarmChild`),
 * each watched against the limits as `serveLimitedTask` watches its one; ends after a task that
 * failed, whose code may have left its state broken.
 */
export function serveLimitedTasks<T, R>(run: (task: T) => Promise<R>): void {
  const send = (message: ChildMessage<R>) => new Promise<void>((resolve) => process.send!(message, () => resolve()));
  if (process.platform === 'linux') {
    try {
      fs.writeFileSync('/proc/self/oom_score_adj', '1000');
    } catch {
      // Not writable in some sandboxes; the limits still hold.
    }
  }
  process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
  let queue = Promise.resolve();
  process.on('message', (request: ChildRequest<T>) => {
    queue = queue.then(() => serve(request));
  });
  void send({ kind: 'ready' });

  async function serve({ limits, task }: ChildRequest<T>): Promise<void> {
    const cpuAtStart = cpuMs();
    let over = false;
    const watchdog = setInterval(() => {
      const rss = process.memoryUsage.rss();
      const cpu = cpuMs() - cpuAtStart;
      const limit = rss > limits.memoryBytes ? 'memory' : cpu > limits.cpuMs ? 'cpu' : undefined;
      if (!limit || over) return;
      over = true;
      void send({ kind: 'limit', limit, peakRss: Math.max(rss, peakRss()), cpuMs: cpu }).then(() => process.kill(process.pid, 'SIGKILL'));
    }, WATCH_EVERY_MS);
    try {
      const result = await run(task);
      clearInterval(watchdog);
      if (over) return;
      await send({ kind: 'done', result, peakRss: peakRss(), cpuMs: cpuMs() - cpuAtStart, rss: process.memoryUsage.rss() });
    } catch (err) {
      clearInterval(watchdog);
      if (over) return;
      await send({ kind: 'failed', message: String((err as Error)?.message ?? err), peakRss: peakRss(), cpuMs: cpuMs() - cpuAtStart });
      process.exit(0);
    }
  }
}
