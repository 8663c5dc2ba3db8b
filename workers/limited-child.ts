import { fork } from 'node:child_process';
import fs from 'node:fs';
import { ENGINE_ENV } from './engine-env.js';
import type { Stopper } from './stopper.js';

/**
 * What a decoder that cannot be trusted to stay within bounds may use, enforced on the process
 * it runs in (workers/limited-child.runtime.ts is that process's side).
 *
 * Why a process: some decoders' memory and time grow with what a file asks for rather than with
 * its size (librsvg's filter surfaces), cannot be interrupted once they run, or keep what they
 * grew (WebAssembly memory never shrinks). A process of its own has its memory and CPU time
 * bounded, is ended when it passes them, and gives everything back when it exits.
 */
export interface ChildLimits {
  /** Resident memory of the process; on Linux also its data segment (RLIMIT_DATA). */
  memoryBytes: number;
  /** CPU time of the process, all its threads together. */
  cpuMs: number;
}

/** What the process sends back (the runtime's side of the conversation). */
export type ChildMessage<R> =
  | { kind: 'ready' }
  | { kind: 'done'; result: R; peakRss: number; cpuMs: number; /** Resident memory once done (a process that serves on). */ rss?: number }
  | { kind: 'limit'; limit: 'memory' | 'cpu'; peakRss: number; cpuMs: number }
  | { kind: 'failed'; message: string; peakRss: number; cpuMs: number };

/** What the parent sends once the process is ready. */
export interface ChildRequest<T> {
  limits: ChildLimits;
  task: T;
}

/** How one run ended. */
export interface ChildRun<R> {
  /** `memory` and `cpu`: ended at that limit; `failed`: the task threw (or the process died without a word). */
  outcome: 'done' | 'memory' | 'cpu' | 'failed';
  result?: R;
  /** The process's peak resident memory, as it measured it (absent if it ended without a word). */
  peakRss?: number;
  cpuMs?: number;
  message?: string;
}

/** A last resort should the process stop using CPU without ending (never seen). */
const WALL_CLOCK_FACTOR = 10;
const STOP_POLL_MS = 50;
const HAS_SH = process.platform === 'linux' && fs.existsSync('/bin/sh');

/**
 * How the process is started. On Linux through the shell, which sets its limits before it
 * becomes Node: no core file; a data segment (every private writable mapping: malloc, cairo's
 * surfaces, WebAssembly memory as it grows) no larger than the memory limit, so an allocation
 * past it fails at once instead of after its pages are touched; and, for a process that serves
 * one task (`cpuSeconds`), CPU time a second past the limit (the kernel ends the process with
 * SIGXCPU), which holds where the process's own watchdog cannot look: a WebAssembly decoder runs
 * on the only JavaScript thread and blocks its timers. A process that serves many tasks gets no
 * kernel CPU limit (it would count them all): the parent's wall clock bounds each task.
 * Elsewhere the watchdog and the parent's wall clock are the bound.
 */
/**
 * What V8's JIT holds of the data segment before the first line of JavaScript runs: its code
 * range, reserved writable and executable at start (510 MiB on Node 24; Node 20 and 22 reserve
 * it inaccessible, which does not count). Never resident, but the kernel's data limit counts it,
 * so a process that needs its JIT (WebAssembly) gets this much more; a `--jitless` one needs
 * none. Read off this process, which runs the same Node: its large anonymous writable and
 * executable mappings.
 */
let jitReservation: number | undefined;
function jitReservationBytes(): number {
  return (jitReservation ??= readJitReservation());
}

function readJitReservation(): number {
  let bytes = 0;
  for (const line of fs.readFileSync('/proc/self/maps', 'utf8').split('\n')) {
    const [range, perms, , , inode] = line.split(/\s+/);
    if (!range || perms !== 'rwxp' || inode !== '0') continue;
    const [start, end] = range.split('-').map((hex) => Number.parseInt(hex, 16));
    if (end! - start! >= 64 * 1024 * 1024) bytes += end! - start!;
  }
  return bytes;
}

function launch(
  module: string,
  limits: ChildLimits,
  kernelLimit: boolean,
  cpuSeconds: number | undefined = Math.ceil(limits.cpuMs / 1000) + 1,
  nodeFlags: readonly string[] = [],
) {
  // The allocator settings the engine runs with (server/node-flags.ts), unless set otherwise:
  // what a task frees goes back to the system rather than waiting in an arena.
  const env: NodeJS.ProcessEnv = { ...ENGINE_ENV, ...process.env };
  // Under Electron, process.execPath is the app: told to behave as plain Node.
  if (process.versions.electron) env.ELECTRON_RUN_AS_NODE = '1';
  const dataLimit = limits.memoryBytes + (HAS_SH && kernelLimit && !nodeFlags.includes('--jitless') ? jitReservationBytes() : 0);
  const shell =
    HAS_SH && kernelLimit
      ? {
          execPath: '/bin/sh',
          // A soft limit, which a lower hard limit (already stricter) cannot make fail.
          execArgv: ['-c', `ulimit -c 0 2>/dev/null; ulimit -S -d ${Math.floor(dataLimit / 1024)} 2>/dev/null; ${cpuSeconds ? `ulimit -S -t ${cpuSeconds} 2>/dev/null; ` : ''}exec "$@"`, 'sh', process.execPath, ...nodeFlags],
        }
      : { execArgv: [...nodeFlags] };
  return fork(module, [], { ...shell, env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'advanced' });
}

/**
 * Ends a process at work (`end`) when its job is stopped, keeping the stopper's reason, or once
 * `wallClockMs` have passed; `dispose()` when the process has ended or its task is settled.
 */
function guardRun(stop: Stopper, end: () => void, wallClockMs: number) {
  const poll = setInterval(() => {
    try {
      stop.check();
    } catch (err) {
      guard.stopped ??= err;
      end();
    }
  }, STOP_POLL_MS);
  const wallClock = setTimeout(() => {
    guard.outOfTime = true;
    end();
  }, wallClockMs);
  const guard = {
    stopped: undefined as unknown,
    outOfTime: false,
    dispose() {
      clearInterval(poll);
      clearTimeout(wallClock);
    },
  };
  return guard;
}

/** The first 4 KiB a process writes to stderr: its first line says why it could not start. */
function stderrOf(child: ReturnType<typeof launch>): () => string {
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString();
  });
  return () => stderr;
}

/**
 * Runs `task` once in a new process started from `module` (which calls `serveLimitedTask`),
 * within `limits`; ends the process when `stop` says so (the promise then rejects with the
 * stopper's error). `what` names the process in errors ("the SVG render process").
 */
export function runLimitedChild<T, R>(options: {
  module: string;
  what: string;
  task: T;
  limits: ChildLimits;
  stop: Stopper;
  /** On Linux the kernel also holds the memory limit; false leaves it to the watchdog alone, as elsewhere. */
  kernelLimit?: boolean;
  /**
   * Node's flags for the process. A process that runs only a few lines of JavaScript around a
   * native library wants `--jitless`: it then needs no room for V8's code range
   * (jitReservationBytes).
   */
  nodeFlags?: readonly string[];
}): Promise<ChildRun<R>> {
  const { limits, stop } = options;
  return new Promise((resolve, reject) => {
    const child = launch(options.module, limits, options.kernelLimit ?? true, undefined, options.nodeFlags);
    let ready = false;
    let last: ChildMessage<R> | undefined;
    const stderr = stderrOf(child);
    const end = () => child.kill('SIGKILL');
    const guard = guardRun(stop, end, limits.cpuMs * WALL_CLOCK_FACTOR);

    child.on('message', (message: ChildMessage<R>) => {
      if (message.kind === 'ready') {
        ready = true;
        const request: ChildRequest<T> = { limits, task: options.task };
        child.send(request);
      } else {
        last = message;
        // One task only: a process that would serve more (serveLimitedTasks) ends when let go.
        if (message.kind !== 'limit' && child.connected) child.disconnect();
      }
    });
    child.on('error', (err) => {
      guard.stopped ??= err; // could not start: the machine's trouble, not the file's
      end();
    });
    child.on('exit', (code, signal) => {
      guard.dispose();
      if (guard.stopped) return reject(guard.stopped);
      if (!ready) {
        const reason = signal ? `signal ${signal}` : `code ${code}`;
        return reject(new Error(`${options.what} could not start (${reason}): ${stderr().split('\n')[0] ?? ''}`.trim()));
      }
      if (guard.outOfTime) return resolve({ outcome: 'cpu', message: 'ended after ten times its CPU limit in wall-clock time' });
      if (signal === 'SIGXCPU' && last?.kind !== 'done') return resolve({ outcome: 'cpu', message: 'ended by the kernel past its CPU limit', cpuMs: limits.cpuMs });
      if (!last) return resolve({ outcome: 'failed', message: `${options.what} ended (${signal ?? code}) without a result` });
      switch (last.kind) {
        case 'done':
          return resolve({ outcome: 'done', result: last.result, peakRss: last.peakRss, cpuMs: last.cpuMs });
        case 'limit':
          return resolve({ outcome: last.limit, peakRss: last.peakRss, cpuMs: last.cpuMs });
        case 'failed':
          return resolve({ outcome: 'failed', message: last.message, peakRss: last.peakRss, cpuMs: last.cpuMs });
        default:
          return resolve({ outcome: 'failed', message: `${options.what} ended without a result` });
      }
    });
  });
}

/**
 * A limited process that stays to serve one task after another (workers/limited-child.runtime.ts
 * `serveLimitedTasks`), for a decoder whose start costs as much as its work: libheif in
 * WebAssembly takes 0.1 s to load and decodes its first image at half speed while V8 compiles
 * its hot code, so a fresh process per 12 MP photo doubles the time. Each task runs within the
 * limits as in a process of its own: its memory is the process's (the kernel's data limit holds
 * over its whole life), its time is held from outside by a wall clock of the CPU limit (a
 * decoder that blocks its thread keeps the process's own watchdog from looking; on a shared
 * machine wall time is at least CPU time, so that is the stricter bound). A process whose memory
 * a task grew past `recycleAboveBytes` is ended once done, WebAssembly memory never shrinking; so
 * is one whose task failed (its decoder may be left in any state), and one idle for `idleMs`.
 * Tasks are served one at a time, in the order asked.
 */
export function createWarmChild<T, R>(options: { module: string; what: string; limits: ChildLimits; recycleAboveBytes: number; idleMs: number }) {
  let current: { child: ReturnType<typeof launch>; ready: Promise<void> } | undefined;
  let idle: NodeJS.Timeout | undefined;
  let queue: Promise<unknown> = Promise.resolve();

  const end = () => {
    current?.child.kill('SIGKILL');
    current = undefined;
  };

  function start() {
    // No kernel CPU limit: it would count the process's whole life, every image it served; each
    // task's time is held by its wall clock instead.
    const child = launch(options.module, options.limits, true, 0);
    const stderr = stderrOf(child);
    const ready = new Promise<void>((resolve, reject) => {
      const onMessage = (message: ChildMessage<R>) => {
        if (message.kind !== 'ready') return;
        child.off('message', onMessage);
        resolve();
      };
      child.on('message', onMessage);
      child.once('exit', (code, signal) => reject(new Error(`${options.what} could not start (${signal ?? `code ${code}`}): ${stderr().split('\n')[0] ?? ''}`.trim())));
      child.once('error', reject);
    });
    // Could not start, or its channel closed under a send: the process is ended and its task
    // (if any) settles when its exit is seen; never an unhandled error in the worker thread.
    child.on('error', () => child.kill('SIGKILL'));
    const started = { child, ready };
    child.once('exit', () => {
      if (current === started) current = undefined;
    });
    ready.catch(() => {}); // the task that waits on it reports it
    return started;
  }

  async function runOne(task: T, stop: Stopper, retried = false): Promise<ChildRun<R>> {
    clearTimeout(idle);
    stop.check();
    // A process that served before may have died while it waited (the OOM killer, an operator)
    // before its end was noticed here: a task it ends without a word to is tried once more in a
    // new process, so a dead idle process never fails an image.
    const reused = current !== undefined;
    current ??= start();
    const { child, ready } = current;
    child.ref();
    (child.channel as { ref?: () => void } | null | undefined)?.ref?.();
    await ready;
    let answered = false;
    const run = await new Promise<ChildRun<R>>((resolve, reject) => {
      let settled = false;
      const finish = (outcome: () => void) => {
        if (settled) return;
        settled = true;
        guard.dispose();
        child.off('message', onMessage);
        child.off('exit', onExit);
        outcome();
      };
      const guard = guardRun(stop, end, options.limits.cpuMs);
      let limit: ChildMessage<R> | undefined;
      const onMessage = (message: ChildMessage<R>) => {
        answered = true;
        if (message.kind === 'limit') {
          limit = message; // the process ends itself next
        } else if (message.kind === 'done') {
          if ((message.rss ?? 0) > options.recycleAboveBytes) end();
          finish(() => resolve({ outcome: 'done', result: message.result, peakRss: message.peakRss, cpuMs: message.cpuMs }));
        } else if (message.kind === 'failed') {
          end();
          finish(() => resolve({ outcome: 'failed', message: message.message, peakRss: message.peakRss, cpuMs: message.cpuMs }));
        }
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
        finish(() => {
          if (guard.stopped) return reject(guard.stopped);
          if (guard.outOfTime) return resolve({ outcome: 'cpu', message: `ended after ${options.limits.cpuMs / 1000} s` });
          if (limit?.kind === 'limit') return resolve({ outcome: limit.limit, peakRss: limit.peakRss, cpuMs: limit.cpuMs });
          resolve({ outcome: 'failed', message: `${options.what} ended (${signal ?? code}) without a result` });
        });
      child.on('message', onMessage);
      child.on('exit', onExit);
      if (child.exitCode !== null || child.signalCode !== null) return onExit(child.exitCode, child.signalCode);
      child.send({ limits: options.limits, task } satisfies ChildRequest<T>, (err) => {
        if (err) end(); // it died meanwhile: its exit settles the task
      });
    });
    if (reused && !answered && !retried && run.outcome === 'failed') return await runOne(task, stop, true);
    if (current?.child === child) {
      // Idle: the process neither keeps this thread alive nor outlives a quiet spell.
      child.unref();
      (child.channel as { unref?: () => void } | null | undefined)?.unref?.();
      idle = setTimeout(end, options.idleMs);
      idle.unref();
    }
    return run;
  }

  return {
    /** Runs `task` in the process (started if need be), after any task asked before it. */
    run(task: T, stop: Stopper): Promise<ChildRun<R>> {
      const next = queue.then(() => runOne(task, stop));
      queue = next.catch(() => {});
      return next;
    },
    /** Ends the process now (a later task starts another). */
    close: end,
  };
}
