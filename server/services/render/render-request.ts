import crypto from 'node:crypto';
import { MAX_OUTPUT_SIDE, type OutputFormat, type RenderQuery } from '../../api/index.js';
import { AppError } from '../../errors.js';
import { checkOperations } from '../../../workers/operations.js';
import { maxPixelsFor, planOutput } from '../../../workers/output-caps.js';
import type { OutputSpec } from '../../../workers/types.js';

/**
 * Bumped whenever the same parameters would come out as other bytes (the operation table, the
 * encoders' settings, the libraries): every ETag and cache key changes with it, so no client and
 * no stored render keeps bytes an older pipeline made under a strong ETag.
 */
export const RENDER_VERSION = 1;

const FORMAT_NAMES = { avif: 'AVIF', webp: 'WebP', jpeg: 'JPEG', png: 'PNG' } as const;

/** A render's parameters as given (the query parsed with `RenderQuery`, or what a signed link or a preset carries). */
export type RenderParams = RenderQuery;

/**
 * Step 2 of `resolveRender`: parameters from more than one place, merged. `base` is what a
 * preset (or a signed link) says; `given` is the query's, and each parameter given overrides
 * the base's (CONTRACT §10: "parameters given beside it override it"). Undefined is not given.
 */
export function mergeParams(base: RenderParams, given: RenderParams): RenderParams {
  const merged: Record<string, unknown> = { ...base };
  for (const [name, value] of Object.entries(given)) if (value !== undefined) merged[name] = value;
  return merged as RenderParams;
}

/** What the request's answer depends on besides its parameters. */
export interface RenderSource {
  id: string;
  sha256: string;
  /** The size the source displays at (after its EXIF orientation), one frame's for an animation. */
  width: number;
  height: number;
  /** Frames a WebP output keeps (1 but for an animation kept animated). */
  frames: number;
  /** Whether the source has an alpha channel: asked only when `auto` falls back to PNG or JPEG. */
  hasAlpha: () => Promise<boolean>;
}

/** A request made whole: the one output it asks for, and what names it. */
export interface ResolvedRender {
  /** The output, defaults filled in, dpr applied, parameters that change nothing left out. */
  spec: OutputSpec;
  format: OutputFormat;
  /** Whether the format was chosen from Accept (the answer then varies by it). */
  negotiated: boolean;
  /** Names this output of this image: the ETag's digits and the stored render's key. */
  key: string;
  /** The strong ETag, quoted. */
  etag: string;
}

/**
 * `format=auto` (CONTRACT §10): AVIF when Accept names image/avif, else WebP when it names
 * image/webp, else PNG for a source with alpha and JPEG otherwise. A media range with q=0 is a
 * refusal, not a naming; wildcards (`image/*`, `*\/*`) name no format in particular.
 */
export function acceptedFormat(accept: string | undefined): 'avif' | 'webp' | undefined {
  const named = new Set<string>();
  for (const part of (accept ?? '').toLowerCase().split(',')) {
    const [type, ...params] = part.split(';').map((s) => s.trim());
    const q = params.find((p) => p.startsWith('q='));
    if (q && Number(q.slice(2)) === 0) continue;
    if (type) named.add(type);
  }
  if (named.has('image/avif')) return 'avif';
  if (named.has('image/webp')) return 'webp';
  return undefined;
}

/**
 * The steps from a request's parameters to its output, in order:
 *
 * 1. `params`: each parameter already checked on its own (the `RenderQuery` schema);
 * 2. `merge`: where parameters come from more than the query (a preset named beside them:
 *    CONTRACT §10 says the ones given override it), they are merged with `mergeParams` before
 *    anything depends on them; the caller passes the merged parameters (`RenderService.render`);
 * 3. defaults (`fit` inside, `position` center, `format` auto, `dpr` 1), `dpr` multiplying
 *    `w` and `h`, `auto` resolved;
 * 4. what the parameters must be together (the operation table's checks: entropy and
 *    attention only with cover) and the output caps (CONTRACT §14), against the source's size;
 * 5. normalised (what changes nothing left out) and named: the ETag, computed without
 *    rendering, so If-None-Match is answered before any pixel is decoded.
 */
export async function resolveRender(params: RenderParams, source: RenderSource, accept: string | undefined, maxOutputPixels: number): Promise<ResolvedRender> {
  const dpr = params.dpr ?? 1;
  const scaled = (side: number | undefined, name: string) => {
    if (side === undefined) return undefined;
    const px = Math.round(side * dpr);
    if (px > MAX_OUTPUT_SIDE) {
      throw new AppError('invalid_request', `${name}: ${side} × dpr ${dpr} = ${px} pixels is over the limit of ${MAX_OUTPUT_SIDE} pixels a side`);
    }
    return px;
  };
  const width = scaled(params.w, 'w');
  const height = scaled(params.h, 'h');
  const fit = params.fit ?? 'inside';
  const requested = params.format ?? 'auto';
  const offered = requested === 'auto' ? acceptedFormat(accept) : undefined;
  const format: OutputFormat = requested !== 'auto' ? requested : (offered ?? ((await source.hasAlpha()) ? 'png' : 'jpeg'));
  const sized = width !== undefined || height !== undefined;
  // The position matters only where the image is cropped (cover) or placed in a larger box
  // (contain) at both sides given; elsewhere it is left out, so it does not split the cache.
  const positioned = sized && (fit === 'cover' || fit === 'contain') && width !== undefined && height !== undefined;
  const asked: OutputSpec = {
    ...(width !== undefined && { width }),
    ...(height !== undefined && { height }),
    fit,
    ...(params.position && { position: params.position }),
    format,
    ...(params.q !== undefined && { quality: params.q }),
    withoutEnlargement: true,
  };
  const problem = checkOperations(asked);
  if (problem) throw new AppError('invalid_request', problem);

  const plan = planOutput(asked, source.width, source.height, maxOutputPixels, format === 'webp' ? source.frames : 1);
  if (plan.clamped) {
    const cap = maxPixelsFor(format, maxOutputPixels);
    const which =
      cap < maxOutputPixels
        ? `the ${FORMAT_NAMES[format]} limit of ${cap} pixels (its encoder needs the most memory per pixel)`
        : `the limit of ${cap} pixels (--max-output-pixels) and ${MAX_OUTPUT_SIDE} pixels a side`;
    const frames = plan.frames > 1 ? ` × ${plan.frames} frames` : '';
    throw new AppError('invalid_request', `the output of ${outputSize(asked, source)}${frames} is over ${which}`);
  }

  const spec: OutputSpec = {
    ...(width !== undefined && { width }),
    ...(height !== undefined && { height }),
    fit: sized ? fit : 'inside',
    ...(positioned && params.position && params.position !== 'center' && { position: params.position }),
    format,
    ...(params.q !== undefined && { quality: params.q }),
    withoutEnlargement: true,
  };
  const key = crypto
    .createHash('sha256')
    .update(JSON.stringify([RENDER_VERSION, source.id, source.sha256, spec.width ?? null, spec.height ?? null, spec.fit, spec.position ?? null, spec.format, spec.quality ?? null]))
    .digest('hex')
    .slice(0, 40);
  return { spec, format, negotiated: requested === 'auto', key, etag: `"r${key}"` };
}

/** The size an output over the caps would have had, for the 400's message. */
function outputSize(spec: OutputSpec, source: { width: number; height: number }): string {
  const sx = spec.width ? spec.width / source.width : undefined;
  const sy = spec.height ? spec.height / source.height : undefined;
  if (sx !== undefined && sy !== undefined && spec.fit !== 'inside' && spec.fit !== 'outside') {
    return `${spec.width}×${spec.height} = ${spec.width! * spec.height!} pixels`;
  }
  let scale = sx === undefined ? (sy ?? 1) : sy === undefined ? sx : spec.fit === 'inside' ? Math.min(sx, sy) : Math.max(sx, sy);
  scale = Math.min(scale, 1);
  const w = Math.round(source.width * scale);
  const h = Math.round(source.height * scale);
  return `${w}×${h} = ${w * h} pixels`;
}
