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

type Send<R> = (message: ChildMessage<R>) => Promise<void>;

/** How this process talks to its parent; and, under memory pressure, the kernel ends this process rather than the server that started it. */
function connect<R>(): Send<R> {
  if (process.platform === 'linux') {
    try {
      fs.writeFileSync('/proc/self/oom_score_adj', '1000');
    } catch {
      // Not writable in some sandboxes; the limits still hold.
    }
  }
  return (message) => new Promise<void>((resolve) => process.send!(message, () => resolve()));
}

/**
 * Runs one task, watching this process's memory and the CPU time used since `cpuFrom` against
 * the limits, and tells the parent how it ended. Past a limit the parent is told so and the
 * process ends (the task may not be interruptible): `over`.
 */
async function runWatched<T, R>(send: Send<R>, { limits, task }: ChildRequest<T>, run: (task: T) => Promise<R>, cpuFrom: number): Promise<'done' | 'failed' | 'over'> {
  let over = false;
  const watchdog = setInterval(() => {
    const rss = process.memoryUsage.rss();
    const cpu = cpuMs() - cpuFrom;
    const limit = rss > limits.memoryBytes ? 'memory' : cpu > limits.cpuMs ? 'cpu' : undefined;
    if (!limit || over) return;
    over = true;
    void send({ kind: 'limit', limit, peakRss: Math.max(rss, peakRss()), cpuMs: cpu }).then(() => process.kill(process.pid, 'SIGKILL'));
  }, WATCH_EVERY_MS);
  try {
    const result = await run(task);
    clearInterval(watchdog);
    if (over) return 'over';
    await send({ kind: 'done', result, peakRss: peakRss(), cpuMs: cpuMs() - cpuFrom, rss: process.memoryUsage.rss() });
    return 'done';
  } catch (err) {
    clearInterval(watchdog);
    if (over) return 'over';
    await send({ kind: 'failed', message: String((err as Error)?.message ?? err), peakRss: peakRss(), cpuMs: cpuMs() - cpuFrom });
    return 'failed';
  }
}

/** Serves one task in this process: call once, at the top of the process's module. */
export function serveLimitedTask<T, R>(run: (task: T) => Promise<R>): void {
  const send = connect<R>();
  // The server is gone (or stopped the task): nothing will read the result.
  const orphaned = () => process.kill(process.pid, 'SIGKILL');
  process.on('disconnect', orphaned);
  process.once('message', (request: ChildRequest<T>) => void serve(request));
  void send({ kind: 'ready' });

  async function serve(request: ChildRequest<T>): Promise<void> {
    // The process's whole CPU time counts, its start included, as the kernel's limit counts it.
    if ((await runWatched(send, request, run, 0)) === 'over') return;
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
  const send = connect<R>();
  process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
  let queue = Promise.resolve();
  process.on('message', (request: ChildRequest<T>) => {
    queue = queue.then(async () => {
      if ((await runWatched(send, request, run, cpuMs())) === 'failed') process.exit(0);
    });
  });
  void send({ kind: 'ready' });
}
