/**
 * SVG documents of a few hundred bytes whose render needs memory or time that grows with what
 * they ask for, not with their size: each element librsvg composites apart (a filter result,
 * a mask, a group with opacity, a pattern tile) is a surface the size of the whole render.
 * Used by the SVG benchmark and by the tests of SVG renders.
 */
const svg = (width: number, height: number, body: string) =>
  `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="${width}" height="${height}" viewBox="0 0 1000 1000" preserveAspectRatio="none">${body}</svg>`;

/** Noise, then `steps` colour matrices each kept under a name of its own: steps + 4 full-size surfaces. */
export function filterChainSvg(width: number, height: number, steps = 10): string {
  let primitives = '<feTurbulence type="fractalNoise" baseFrequency="0.9" numOctaves="1" result="r0"/>';
  for (let i = 1; i < steps; i++) primitives += `<feColorMatrix in="r${i - 1}" type="hueRotate" values="${i * 7}" result="r${i}"/>`;
  return svg(width, height, `<filter id="f" x="0" y="0" width="1" height="1">${primitives}</filter><rect width="1000" height="1000" filter="url(#f)"/>`);
}

/** Each mask masked by the one before it. */
export function maskChainSvg(width: number, height: number, depth = 30): string {
  let masks = '';
  for (let i = 0; i < depth; i++) masks += `<mask id="m${i}"><rect width="1000" height="1000" fill="white"${i ? ` mask="url(#m${i - 1})"` : ''}/></mask>`;
  return svg(width, height, `${masks}<rect width="1000" height="1000" fill="red" mask="url(#m${depth - 1})"/>`);
}

/** Groups with opacity inside each other: each composited on its own layer. */
export function nestedOpacitySvg(width: number, height: number, depth = 40): string {
  const shapes = '<rect width="1000" height="600" fill="red"/><circle cx="500" cy="500" r="400" fill="blue"/>';
  return svg(width, height, '<g opacity="0.9">'.repeat(depth) + shapes + '</g>'.repeat(depth));
}

/** A pattern whose tile is the whole picture, with a translucent shape in it. */
export function patternSvg(width: number, height: number): string {
  return svg(
    width,
    height,
    '<pattern id="p" width="1000" height="1000" patternUnits="userSpaceOnUse"><rect width="1000" height="1000" fill="red" opacity="0.5"/></pattern><rect width="1000" height="1000" fill="url(#p)"/>',
  );
}

/** A line stroked a hundred million units wide. */
export function hugeStrokeSvg(width: number, height: number): string {
  return svg(width, height, '<path d="M0 0 L1000 1000" stroke="red" stroke-width="100000000"/>');
}

/** `<use>` fanned out ten ways on each of `levels` levels: 10^levels circles ("billion laughs"). */
export function useFanOutSvg(width: number, height: number, levels = 6): string {
  let defs = '<g id="l0"><circle cx="10" cy="10" r="5"/></g>';
  for (let i = 1; i < levels; i++) defs += `<g id="l${i}">${`<use xlink:href="#l${i - 1}"/>`.repeat(10)}</g>`;
  return svg(width, height, `<defs>${defs}</defs><use xlink:href="#l${levels - 1}"/>`);
}

/** A dilation of radius `radius`: CPU time grows with the radius, memory does not. */
export function morphologySvg(width: number, height: number, radius = 100): string {
  return svg(width, height, `<filter id="f"><feMorphology operator="dilate" radius="${radius}"/></filter><rect width="500" height="500" fill="red" filter="url(#f)"/>`);
}

/** A circle with a drop shadow: a blur, an offset and a merge, as design tools export it. */
export function dropShadowSvg(width: number, height: number): string {
  return svg(
    width,
    height,
    '<filter id="f"><feGaussianBlur in="SourceAlpha" stdDeviation="10" result="b"/><feOffset in="b" dx="10" dy="10" result="o"/><feMerge><feMergeNode in="o"/><feMergeNode in="SourceGraphic"/></feMerge></filter><circle cx="500" cy="500" r="330" fill="green" filter="url(#f)"/>',
  );
}

/** A gradient and a translucent shape: what most documents need, and no more. */
export function plainSvg(width: number, height: number): string {
  return svg(
    width,
    height,
    '<linearGradient id="g"><stop offset="0" stop-color="red"/><stop offset="1" stop-color="blue"/></linearGradient><rect width="1000" height="1000" fill="url(#g)"/><circle cx="500" cy="500" r="300" fill="green" opacity="0.5"/>',
  );
}
