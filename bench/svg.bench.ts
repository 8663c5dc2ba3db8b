import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ENGINE_ENV } from '../server/node-flags.js';
import { createStopper } from '../workers/stopper.js';
import { renderSvg, SVG_RENDER_LIMITS, SvgRenderFailed, type SvgRenderReport } from '../workers/svg-render.js';
import { dropShadowSvg, filterChainSvg, nestedOpacitySvg, patternSvg, plainSvg } from './lib/svg-documents.js';
import { ROOT } from './lib/processes.js';
import type { BenchEntry } from './report.js';

const MiB = 1024 * 1024;

const DOCUMENTS: Array<{ name: string; make: (width: number, height: number) => string }> = [
  { name: 'plain (gradient, shape)', make: plainSvg },
  { name: 'pattern fill', make: patternSvg },
  { name: 'drop shadow', make: dropShadowSvg },
  { name: 'filter chain (10 results)', make: (w, h) => filterChainSvg(w, h, 10) },
  { name: 'nested opacity (20 groups)', make: (w, h) => nestedOpacitySvg(w, h, 20) },
];

/**
 * What SVG renders cost, and what the render limits (workers/svg-render.ts) change: each
 * document rendered at 40 MP (quick: 10 MP) as before the limits, by sharp in a process of its
 * own with nothing to stop it (time, peak RSS), against the bounded render (time, the peak of
 * its render processes, the tries and the size it was rendered at).
 */
export async function svgBench(options: { quick: boolean }): Promise<BenchEntry[]> {
  const [width, height] = options.quick ? [4096, 2441] : [8192, 4882];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-bench-svg-'));
  const entries: BenchEntry[] = [];
  try {
    for (const doc of DOCUMENTS) {
      const svg = doc.make(width, height);
      const file = path.join(dir, 'document.svg');
      fs.writeFileSync(file, svg);
      const unbounded = await renderUnbounded(file, width, height, path.join(dir, 'unbounded.tif'), options.quick ? 120_000 : 600_000);
      const started = performance.now();
      let report: SvgRenderReport;
      let outcome = 'made';
      try {
        report = await renderSvg({ svg: Buffer.from(svg), output: path.join(dir, 'bounded.tif'), width, height, stop: createStopper({}) });
      } catch (err) {
        if (!(err instanceof SvgRenderFailed)) throw err;
        report = err.report;
        outcome = 'refused';
      }
      const seconds = (performance.now() - started) / 1000;
      const peak = Math.max(...report.attempts.map((a) => a.peakRss ?? 0)) / MiB;
      const last = report.attempts.at(-1)!;
      const how = `${outcome}, ${report.attempts.length} tr${report.attempts.length === 1 ? 'y' : 'ies'}, rendered at ${last.width}×${last.height}`;
      console.log(
        `  ${doc.name} (${svg.length} bytes) at ${width}×${height}: unbounded ${unbounded ? `${unbounded.seconds.toFixed(1)} s, ${unbounded.peakMiB.toFixed(0)} MiB` : 'did not finish'}; bounded ${seconds.toFixed(1)} s, ${peak.toFixed(0)} MiB (${how})`,
      );
      const name = `${doc.name} at ${width}×${height}`;
      entries.push({
        suite: 'svg',
        name: `${name}: time`,
        value: seconds,
        unit: 's',
        baseline: unbounded ? { name: 'rendered in process, unbounded', value: unbounded.seconds } : undefined,
        ratio: unbounded ? unbounded.seconds / seconds : undefined,
        notes: how,
      });
      entries.push({
        suite: 'svg',
        name: `${name}: peak memory`,
        value: peak,
        unit: 'MiB',
        baseline: unbounded ? { name: 'rendered in process, unbounded', value: unbounded.peakMiB } : undefined,
        target: `≤ ${SVG_RENDER_LIMITS.memoryBytes / MiB} MiB`,
        met: peak <= SVG_RENDER_LIMITS.memoryBytes / MiB + 32,
        notes: how,
      });
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return entries;
}

/**
 * The document rendered as it was before the limits: by sharp (one libvips thread, as a worker
 * runs), in a Node process of its own so that its peak RSS (getrusage) is the render's; ended
 * after `timeoutMs`.
 */
function renderUnbounded(file: string, width: number, height: number, output: string, timeoutMs: number): Promise<{ seconds: number; peakMiB: number } | undefined> {
  const script = `
    import { createRequire } from 'node:module';
    import fs from 'node:fs';
    const sharp = createRequire(${JSON.stringify(path.join(ROOT, 'package.json'))})('sharp');
    sharp.concurrency(1);
    sharp.cache(false);
    const started = performance.now();
    await sharp(fs.readFileSync(${JSON.stringify(file)}), { limitInputPixels: false })
      .resize({ width: ${width}, height: ${height}, fit: 'fill' })
      .tiff({ compression: 'none' })
      .toFile(${JSON.stringify(output)});
    console.log(JSON.stringify({ seconds: (performance.now() - started) / 1000, peakMiB: process.resourceUsage().maxRSS / 1024 }));
  `;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...ENGINE_ENV, ...process.env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      fs.rmSync(output, { force: true });
      resolve(code === 0 ? JSON.parse(out.trim().split('\n').at(-1)!) : undefined);
    });
  });
}
