import { runLimitedChild, type ChildLimits } from './limited-child.js';
import { compiledWorkerPath } from './worker-path.js';
import type { Stopper } from './stopper.js';

const MiB = 1024 * 1024;

/**
 * What one SVG render may use, enforced on the process it runs in (workers/svg-render.child.ts,
 * started through workers/limited-child.ts).
 *
 * Why a process: the 2 MiB size limit on SVGs bounds the document, not its render. librsvg keeps
 * a surface the size of the whole render for every named result of a filter chain, every mask,
 * every group with opacity being composited, every pattern tile; libvips renders the document
 * once per 2000×2000 tile, each time with those full-size surfaces. An 879-byte SVG (a noise
 * filter and nine colour matrices) needed 2 GiB and 156 s at 36 MP; a few kilobytes more, tens of
 * gigabytes. No list of features covers every way to get there, and librsvg cannot be stopped
 * once it renders, so the render gets a process of its own whose memory and CPU time are bounded
 * and which is ended when it passes them.
 */
export type SvgRenderLimits = ChildLimits;

/**
 * 512 MiB leaves the server (which waits meanwhile) within 1 GB per worker: measured, a
 * gradient and a shape rendered at 40 MP peaked at 268 MiB, a pattern fill at 517 MiB (that one
 * is now rendered at 10 MP). 30 s of CPU is about thirty times what a plain document takes at
 * 40 MP; a drop shadow took 67 s at 40 MP, under 9 s at 10 MP. `npm run bench -- svg` measures
 * them; docs/security.md ("SVG renders") has the figures.
 */
export const SVG_RENDER_LIMITS: Readonly<SvgRenderLimits> = { memoryBytes: 512 * MiB, cpuMs: 30_000 };

/**
 * A render that passes a limit is tried again at a quarter of the pixels (half a side) and
 * enlarged to the size asked: memory grows with the pixels rendered, and time with the pixels
 * times the 2000×2000 tiles they make. At most three tries (40, 10, 2.5 MP), none below 1 MP
 * after the first.
 */
const MAX_ATTEMPTS = 3;
const MIN_RETRY_PIXELS = 1_000_000;

/** What the render process is asked to do. */
export interface SvgRenderTask {
  /** The document's bytes: never a path librsvg could resolve references against. */
  svg: Uint8Array;
  render: { width: number; height: number };
  output: { path: string; width: number; height: number };
}

export interface SvgRenderAttempt {
  width: number;
  height: number;
  /** `memory` and `cpu`: ended at that limit; `failed`: librsvg gave up (on Linux, refused memory past the limit). */
  outcome: 'done' | 'memory' | 'cpu' | 'failed';
  /** The render process's peak resident memory, as it measured it (absent if it ended without a word). */
  peakRss?: number;
  cpuMs?: number;
  message?: string;
}

/** How an SVG was rendered: the size its variants are made from, and each try. */
export interface SvgRenderReport {
  width: number;
  height: number;
  attempts: SvgRenderAttempt[];
}

/** An SVG that could not be rendered within the limits even at the smallest size tried. */
export class SvgRenderFailed extends Error {
  constructor(
    readonly reason: 'memory' | 'cpu' | 'failed',
    message: string,
    readonly report: SvgRenderReport,
  ) {
    super(message);
  }
}

/**
 * Renders an SVG document (its bytes, as decodableInput reads them) into an uncompressed TIFF of
 * exactly width × height at `output`, within `limits`; rendered smaller and enlarged when a
 * full-size render passes them. Stops (and ends the render process) when `stop` says so.
 */
export async function renderSvg(options: {
  svg: Uint8Array;
  output: string;
  width: number;
  height: number;
  stop: Stopper;
  limits?: SvgRenderLimits;
  /** On Linux the kernel also holds the memory limit; false leaves it to the watchdog alone, as elsewhere. */
  kernelLimit?: boolean;
}): Promise<SvgRenderReport> {
  const limits = options.limits ?? SVG_RENDER_LIMITS;
  const kernelLimit = options.kernelLimit ?? true;
  const report: SvgRenderReport = { width: options.width, height: options.height, attempts: [] };
  for (const size of renderSizes(options.width, options.height)) {
    options.stop.check();
    const attempt = await renderOnce(
      { svg: options.svg, render: size, output: { path: options.output, width: options.width, height: options.height } },
      limits,
      options.stop,
      kernelLimit,
    );
    report.attempts.push(attempt);
    if (attempt.outcome === 'done') return report;
  }
  throw refusal(report, limits);
}

/** The sizes to try, largest first: the size asked, then a quarter of the pixels each time. */
export function renderSizes(width: number, height: number): Array<{ width: number; height: number }> {
  const sizes = [{ width, height }];
  for (let k = 1; k < MAX_ATTEMPTS; k++) {
    const size = { width: Math.max(1, Math.floor(width / 2 ** k)), height: Math.max(1, Math.floor(height / 2 ** k)) };
    if (size.width * size.height < MIN_RETRY_PIXELS) break;
    sizes.push(size);
  }
  return sizes;
}

function refusal(report: SvgRenderReport, limits: SvgRenderLimits): SvgRenderFailed {
  const last = report.attempts.at(-1)!;
  const at = `${last.width}×${last.height}`;
  const budget = `${Math.round(limits.memoryBytes / MiB)} MiB of memory and ${limits.cpuMs / 1000} s of CPU`;
  if (last.outcome === 'cpu') {
    return new SvgRenderFailed('cpu', `this SVG needs more than ${limits.cpuMs / 1000} s of CPU to render, even at ${at} (SVG renders may use ${budget})`, report);
  }
  const detail = last.outcome === 'failed' && last.message ? `: ${last.message.split('\n').join(' ').trim()}` : '';
  return new SvgRenderFailed(
    last.outcome === 'memory' ? 'memory' : 'failed',
    `this SVG could not be rendered within ${budget}, even at ${at} (filters, masks, patterns and nested groups each need memory the size of the render)${detail}`,
    report,
  );
}

const CHILD = compiledWorkerPath('workers/svg-render.child.js');

async function renderOnce(task: SvgRenderTask, limits: SvgRenderLimits, stop: Stopper, kernelLimit: boolean): Promise<SvgRenderAttempt> {
  // No JIT: the render process runs a few lines of JavaScript around libvips (limited-child.ts).
  const run = await runLimitedChild<SvgRenderTask, void>({ module: CHILD, what: 'the SVG render process', task, limits, stop, kernelLimit, nodeFlags: ['--jitless'] });
  const attempt: SvgRenderAttempt = { width: task.render.width, height: task.render.height, outcome: run.outcome };
  if (run.peakRss !== undefined) attempt.peakRss = run.peakRss;
  if (run.cpuMs !== undefined) attempt.cpuMs = run.cpuMs;
  if (run.message !== undefined) attempt.message = run.message;
  return attempt;
}
