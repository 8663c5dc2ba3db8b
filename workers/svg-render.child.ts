/**
 * The process an SVG is rendered in (workers/svg-render.ts starts one per render, through
 * workers/limited-child.ts). librsvg's memory and time grow with what the document asks for, not
 * with its size in bytes, so the render runs where it can be bounded and, past its limits, ended
 * without harming the server (workers/limited-child.runtime.ts watches them).
 */
import sharp from 'sharp';
import { configureDecoders } from './decoders.js';
import { serveLimitedTask } from './limited-child.runtime.js';
import type { SvgRenderTask } from './svg-render.js';

// One render at a time, like a worker thread: libvips' own threads would only compete for cores.
sharp.concurrency(1);
// From bytes only, no operation cache: the same loader rules as everywhere (workers/decoders.ts).
configureDecoders();

serveLimitedTask<SvgRenderTask, void>(async (request) => {
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
});
