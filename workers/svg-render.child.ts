/**
 * The process an SVG is rendered in (workers/svg-render.ts starts one per render). librsvg's
 * memory and time grow with what the document asks for, not with its size in bytes, so the
 * render runs where it can be bounded and, past its limits, ended without harming the server:
 * this process watches its own memory and CPU time and ends itself past them; on Linux the
 * kernel also refuses it memory past the same limit (RLIMIT_DATA, set by the parent).
 */
import fs from 'node:fs';
import sharp from 'sharp';
import { configureDecoders } from './decoders.js';
import type { SvgRenderMessage, SvgRenderRequest } from './svg-render.js';

// One render at a time, like a worker thread: libvips' own threads would only compete for cores.
sharp.concurrency(1);
// From bytes only, no operation cache: the same loader rules as everywhere (workers/decoders.ts).
configureDecoders();

/** How often the watchdog looks: fast enough that memory cannot run far past the limit between looks. */
const WATCH_EVERY_MS = 5;

// Under memory pressure the kernel ends this process rather than the server that started it.
if (process.platform === 'linux') {
  try {
    fs.writeFileSync('/proc/self/oom_score_adj', '1000');
  } catch {
    // Not writable in some sandboxes; the limits below still hold.
  }
}

const send = (message: SvgRenderMessage) => new Promise<void>((resolve) => process.send!(message, () => resolve()));
const peakRss = () => process.resourceUsage().maxRSS * 1024;
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return Math.round((user + system) / 1000);
};

// The server is gone (or stopped the task): nothing will read the result.
const orphaned = () => process.kill(process.pid, 'SIGKILL');
process.on('disconnect', orphaned);
process.once('message', (request: SvgRenderRequest) => void render(request));
void send({ kind: 'ready' });

async function render(request: SvgRenderRequest): Promise<void> {
  let over = false;
  const watchdog = setInterval(() => {
    const rss = process.memoryUsage.rss();
    const cpu = cpuMs();
    const limit = rss > request.limits.memoryBytes ? 'memory' : cpu > request.limits.cpuMs ? 'cpu' : undefined;
    if (!limit || over) return;
    over = true;
    // librsvg cannot be interrupted: the process ends, once the parent has the reason.
    void send({ kind: 'limit', limit, peakRss: Math.max(rss, peakRss()), cpuMs: cpu }).then(() => process.kill(process.pid, 'SIGKILL'));
  }, WATCH_EVERY_MS);

  try {
    // Resizing an SVG makes librsvg render it at the size asked (sharp sets the render scale),
    // not render it at its own size and scale the pixels.
    const rendered = sharp(request.svg, { limitInputPixels: false })
      .resize({ width: request.render.width, height: request.render.height, fit: 'fill' })
      .toColourspace('srgb');
    const { width, height } = request.output;
    if (request.render.width === width && request.render.height === height) {
      await rendered.tiff({ compression: 'none' }).toFile(request.output.path);
    } else {
      // Rendered smaller than asked (a larger render passed a limit): enlarged as pixels.
      const { data, info } = await rendered.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
      await sharp(data, { raw: { width: info.width, height: info.height, channels: info.channels } })
        .resize({ width, height, fit: 'fill' })
        .tiff({ compression: 'none' })
        .toFile(request.output.path);
    }
    clearInterval(watchdog);
    if (over) return;
    await send({ kind: 'done', peakRss: peakRss(), cpuMs: cpuMs() });
  } catch (err) {
    clearInterval(watchdog);
    if (over) return;
    await send({ kind: 'failed', message: String((err as Error)?.message ?? err), peakRss: peakRss(), cpuMs: cpuMs() });
  }
  process.off('disconnect', orphaned);
  process.exit(0);
}
