/**
 * Latency histograms with fixed, logarithmic buckets: bucket i holds values in
 * (2^((i-1)/4), 2^(i/4)] milliseconds, so every bucket is 19% wider than the one before, from
 * 1 ms up to about 7.6 hours (the last bucket also takes anything longer).
 *
 * Why this and not exact percentiles: exact ones need every sample, which grows with the number
 * of images and cannot be summed across days or customers. Fixed buckets are a few hundred bytes
 * per (day, customer, format), add up exactly (merging is adding counts), and with linear
 * interpolation inside a bucket a percentile is off by at most the bucket's width (< 19%),
 * typically a few percent: plenty for "how long does processing take".
 */
export const BUCKETS = 100;
const STEPS_PER_DOUBLING = 4;

export const upperBoundMs = (i: number) => 2 ** (i / STEPS_PER_DOUBLING);
const lowerBoundMs = (i: number) => (i === 0 ? 0 : upperBoundMs(i - 1));

export function bucketOf(ms: number): number {
  if (!(ms > 1)) return 0;
  return Math.min(BUCKETS - 1, Math.ceil(STEPS_PER_DOUBLING * Math.log2(ms) - 1e-9));
}

export type Histogram = Uint32Array;

export const emptyHistogram = (): Histogram => new Uint32Array(BUCKETS);

/** Stored as little-endian uint32 counts, trailing empty buckets left off. */
export function encodeHistogram(h: Histogram): Buffer {
  let last = h.length;
  while (last > 0 && h[last - 1] === 0) last--;
  const out = Buffer.alloc(last * 4);
  for (let i = 0; i < last; i++) out.writeUInt32LE(h[i]!, i * 4);
  return out;
}

/** Adds a stored histogram into `into`. */
export function addEncoded(into: Histogram, encoded: Buffer | null | undefined): void {
  if (!encoded) return;
  const n = Math.min(BUCKETS, encoded.length >>> 2);
  for (let i = 0; i < n; i++) into[i]! += encoded.readUInt32LE(i * 4);
}

export function decodeHistogram(encoded: Buffer | null | undefined): Histogram {
  const h = emptyHistogram();
  addEncoded(h, encoded);
  return h;
}

/** The p-th percentile (0 < p ≤ 1) in whole milliseconds, or null for an empty histogram. */
export function percentile(h: Histogram, p: number): number | null {
  let total = 0;
  for (const c of h) total += c;
  if (total === 0) return null;
  const rank = p * total;
  let seen = 0;
  for (let i = 0; i < h.length; i++) {
    const count = h[i]!;
    if (count === 0) continue;
    if (seen + count >= rank) {
      const lo = lowerBoundMs(i);
      const hi = upperBoundMs(i);
      return Math.round(lo + ((hi - lo) * (rank - seen)) / count);
    }
    seen += count;
  }
  return Math.round(upperBoundMs(h.length - 1));
}
