import fs from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { classifyError } from '../../workers/failures.js';
import { processImage } from '../../workers/pipeline.js';
import { createStopper, Stopped } from '../../workers/stopper.js';
import { renderSvg, SVG_RENDER_LIMITS, SvgRenderFailed, type SvgRenderReport } from '../../workers/svg-render.js';
import {
  filterChainSvg,
  hugeStrokeSvg,
  maskChainSvg,
  morphologySvg,
  nestedOpacitySvg,
  patternSvg,
  plainSvg,
  useFanOutSvg,
} from '../../bench/lib/svg-documents.js';
import { tempDir } from '../helpers/server.js';

const dir = tempDir('darkroom-svg-render-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const MiB = 1024 * 1024;
/** The watchdog looks every 5 ms; what memory can grow by in between. */
const WATCHDOG_SLACK = 32 * MiB;
let n = 0;
const out = () => path.join(dir, `render-${n++}.tif`);
const noStop = () => createStopper({});

/** Lists the render processes this process still has. */
function childProcesses(): number[] {
  const tasks = fs.readdirSync(`/proc/${process.pid}/task`);
  return tasks.flatMap((tid) =>
    fs
      .readFileSync(`/proc/${process.pid}/task/${tid}/children`, 'utf8')
      .split(' ')
      .filter(Boolean)
      .map(Number)
      .filter((pid) => {
        try {
          return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('svg-render.child');
        } catch {
          return false; // gone meanwhile
        }
      }),
  );
}

function describeAttempts(report: SvgRenderReport) {
  return report.attempts.map((a) => `${a.width}×${a.height} ${a.outcome} ${((a.peakRss ?? 0) / MiB).toFixed(0)} MiB ${a.cpuMs} ms`).join(', ');
}

/** A render either made (exactly the size asked) or refused; every try within the memory limit. */
async function renderWithin(svg: string, width: number, height: number, limits = SVG_RENDER_LIMITS, kernelLimit = true) {
  const output = out();
  const started = Date.now();
  let report: SvgRenderReport;
  let refused: SvgRenderFailed | undefined;
  try {
    report = await renderSvg({ svg: Buffer.from(svg), output, width, height, stop: noStop(), limits, kernelLimit });
  } catch (err) {
    if (!(err instanceof SvgRenderFailed)) throw err;
    refused = err;
    report = err.report;
  }
  for (const attempt of report.attempts) {
    expect(attempt.peakRss, describeAttempts(report)).toBeDefined();
    expect(attempt.peakRss!, describeAttempts(report)).toBeLessThanOrEqual(limits.memoryBytes + WATCHDOG_SLACK);
  }
  if (!refused) {
    expect(await sharp(output).metadata()).toMatchObject({ width, height, format: 'tiff' });
  }
  return { report, refused, output, ms: Date.now() - started };
}

describe('SVG renders', () => {
  it('make a plain document at the size asked, 40 MP, in one try', async () => {
    const { report, refused, output } = await renderWithin(plainSvg(8192, 4882), 8192, 4882);
    expect(refused).toBeUndefined();
    expect(report.attempts).toHaveLength(1);
    expect(report.attempts[0]).toMatchObject({ width: 8192, height: 4882, outcome: 'done' });
    // The gradient runs from red (left) to blue (right).
    const { data, info } = await sharp(output).extract({ left: 0, top: 0, width: 8192, height: 1 }).raw().toBuffer({ resolveWithObject: true });
    expect(data[0]).toBeGreaterThan(200);
    expect(data[(8191 * info.channels) + 2]).toBeGreaterThan(200);
  });

  it('keep a filter chain that needs gigabytes at full size within the memory limit: rendered smaller, enlarged to the size asked', async () => {
    // The reviewer's document: 879 bytes, 2.0 GiB and 156 s at 6000×6000 rendered in process.
    const { report, refused, output, ms } = await renderWithin(filterChainSvg(6000, 6000), 6000, 6000);
    console.log(`filter chain at 6000×6000: ${describeAttempts(report)}; ${ms} ms`);
    expect(refused).toBeUndefined();
    expect(report.attempts.length).toBeGreaterThan(1);
    expect(report.attempts[0]!.outcome).not.toBe('done');
    expect(report.attempts.at(-1)!.outcome).toBe('done');
    expect(ms).toBeLessThan(60_000);
    // Noise (fractal noise is translucent too), not an empty picture.
    const stats = await sharp(output).stats();
    expect(stats.channels[3]!.mean).toBeGreaterThan(50);
    for (const channel of stats.channels) expect(channel.stdev).toBeGreaterThan(10);
  }, 90_000);

  it('keep every document that grows with what it asks for within the memory limit, made or refused', async () => {
    const cases = {
      'mask chain': maskChainSvg(4000, 4000, 30),
      'nested opacity': nestedOpacitySvg(4000, 4000, 40),
      pattern: patternSvg(6324, 6324),
      'huge stroke': hugeStrokeSvg(6324, 6324),
      'use fan-out (10^5 circles)': useFanOutSvg(4000, 4000, 5),
    };
    for (const [name, svg] of Object.entries(cases)) {
      const size = name === 'pattern' || name === 'huge stroke' ? 6324 : 4000;
      const { report, refused, ms } = await renderWithin(svg, size, size);
      console.log(`${name} at ${size}×${size}: ${refused ? 'refused' : 'made'}: ${describeAttempts(report)}; ${ms} ms`);
      expect(ms, name).toBeLessThan(30_000);
    }
  }, 150_000);

  it('refuse a document that passes the memory limit at every size tried, naming the limit: processing_failed, not retried', async () => {
    const file = path.join(dir, 'masks.svg');
    fs.writeFileSync(file, maskChainSvg(4000, 4000, 300));
    const result = await processImage({
      input: file,
      format: 'svg',
      animated: false,
      maxInputPixels: 100_000_000,
      maxOutputPixels: 40_000_000,
      scratch: path.join(dir, 'masks.tif'),
      variants: [{ spec: { name: 'v', width: 4000, fit: 'inside', format: 'png', withoutEnlargement: true }, output: path.join(dir, 'masks.png') }],
    });
    expect(result).toMatchObject({ ok: false, code: 'processing_failed', retryable: false });
    expect(!result.ok && result.message).toMatch(/could not be rendered within 512 MiB of memory and 30 s of CPU, even at 1000×1000/);
    expect(fs.existsSync(path.join(dir, 'masks.tif'))).toBe(false);
    expect(fs.existsSync(path.join(dir, 'masks.png'))).toBe(false);
  });

  it('end a render at its CPU limit and try a smaller one; past it at every size, processing_timeout, not retried', async () => {
    const limits = { memoryBytes: SVG_RENDER_LIMITS.memoryBytes, cpuMs: 1500 };
    // A dilation of radius 300 (of 1000): minutes at 4000×4000, still seconds at 1000×1000.
    const { report, refused, ms } = await renderWithin(morphologySvg(4000, 4000, 300), 4000, 4000, limits);
    console.log(`dilation at 4000×4000, 1.5 s of CPU allowed: ${describeAttempts(report)}; ${ms} ms`);
    expect(report.attempts.map((a) => [a.width, a.outcome])).toEqual([
      [4000, 'cpu'],
      [2000, 'cpu'],
      [1000, 'cpu'],
    ]);
    for (const attempt of report.attempts) {
      expect(attempt.cpuMs).toBeGreaterThanOrEqual(1500);
      expect(attempt.cpuMs).toBeLessThan(2500);
    }
    expect(ms).toBeLessThan(report.attempts.length * 4000);
    expect(refused?.reason).toBe('cpu');
    expect(classifyError(refused)).toMatchObject({ code: 'processing_timeout', retryable: false });
    expect(refused!.message).toMatch(/needs more than 1\.5 s of CPU to render, even at 1000×1000/);
  }, 30_000);

  it('hold the memory limit with the watchdog alone, as on systems without a kernel limit', async () => {
    const limits = { memoryBytes: 300 * MiB, cpuMs: 30_000 };
    const { report, refused } = await renderWithin(filterChainSvg(6000, 6000), 6000, 6000, limits, false);
    console.log(`filter chain, watchdog only, 300 MiB: ${describeAttempts(report)}`);
    expect(report.attempts[0]).toMatchObject({ outcome: 'memory' });
    expect(refused).toBeUndefined();
  }, 60_000);

  it('stop at the deadline or when cancelled, leaving no render process behind', async () => {
    const svg = Buffer.from(morphologySvg(4000, 4000, 300));
    const started = Date.now();
    const late = renderSvg({ svg, output: out(), width: 4000, height: 4000, stop: createStopper({ deadline: Date.now() + 1000 }) });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(childProcesses()).toHaveLength(1); // rendering
    await expect(late).rejects.toMatchObject({ code: 'processing_timeout' });
    expect(Date.now() - started).toBeLessThan(2000);
    expect(childProcesses()).toEqual([]);

    const cancel = new Int32Array(new SharedArrayBuffer(4));
    const cancelled = renderSvg({ svg, output: out(), width: 4000, height: 4000, stop: createStopper({ cancel }) });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const at = Date.now();
    Atomics.store(cancel, 0, 1);
    const err = await cancelled.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Stopped);
    expect((err as Stopped).code).toBe('cancelled');
    expect(Date.now() - at).toBeLessThan(500);
    expect(childProcesses()).toEqual([]);
  });
});
