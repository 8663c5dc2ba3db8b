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
  | { kind: 'done'; result: R; peakRss: number; cpuMs: number }
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
 * past it fails at once instead of after its pages are touched; and CPU time a second past the
 * limit (the kernel ends the process with SIGXCPU), which holds where the process's own watchdog
 * cannot look: a WebAssembly decoder runs on the only JavaScript thread and blocks its timers.
 * Elsewhere the watchdog and the parent's wall clock are the bound.
 */
function launch(module: string, limits: ChildLimits, kernelLimit: boolean) {
  // The allocator settings the engine runs with (server/node-flags.ts), unless set otherwise:
  // what a task frees goes back to the system rather than waiting in an arena.
  const env: NodeJS.ProcessEnv = { ...ENGINE_ENV, ...process.env };
  // Under Electron, process.execPath is the app: told to behave as plain Node.
  if (process.versions.electron) env.ELECTRON_RUN_AS_NODE = '1';
  const shell =
    HAS_SH && kernelLimit
      ? {
          execPath: '/bin/sh',
          // A soft limit, which a lower hard limit (already stricter) cannot make fail.
          execArgv: ['-c', `ulimit -c 0 2>/dev/null; ulimit -S -d ${Math.floor(limits.memoryBytes / 1024)} 2>/dev/null; ulimit -S -t ${Math.ceil(limits.cpuMs / 1000) + 1} 2>/dev/null; exec "$@"`, 'sh', process.execPath],
        }
      : { execArgv: [] };
  return fork(module, [], { ...shell, env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], serialization: 'advanced' });
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
}): Promise<ChildRun<R>> {
  const { limits, stop } = options;
  return new Promise((resolve, reject) => {
    const child = launch(options.module, limits, options.kernelLimit ?? true);
    let ready = false;
    let last: ChildMessage<R> | undefined;
    let stopped: unknown;
    let outOfTime = false;
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => {
      if (stderr.length < 4096) stderr += chunk.toString();
    });
    const end = () => child.kill('SIGKILL');
    const poll = setInterval(() => {
      try {
        stop.check();
      } catch (err) {
        stopped ??= err;
        end();
      }
    }, STOP_POLL_MS);
    const wallClock = setTimeout(() => {
      outOfTime = true;
      end();
    }, limits.cpuMs * WALL_CLOCK_FACTOR);

    child.on('message', (message: ChildMessage<R>) => {
      if (message.kind === 'ready') {
        ready = true;
        const request: ChildRequest<T> = { limits, task: options.task };
        child.send(request);
      } else {
        last = message;
      }
    });
    child.on('error', (err) => {
      stopped ??= err; // could not start: the machine's trouble, not the file's
      end();
    });
    child.on('exit', (code, signal) => {
      clearInterval(poll);
      clearTimeout(wallClock);
      if (stopped) return reject(stopped);
      if (!ready) {
        const reason = signal ? `signal ${signal}` : `code ${code}`;
        return reject(new Error(`${options.what} could not start (${reason}): ${stderr.split('\n')[0] ?? ''}`.trim()));
      }
      if (outOfTime) return resolve({ outcome: 'cpu', message: 'ended after ten times its CPU limit in wall-clock time' });
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
