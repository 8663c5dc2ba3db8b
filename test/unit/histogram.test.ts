import { describe, expect, it } from 'vitest';
import { BUCKETS, bucketOf, decodeHistogram, emptyHistogram, encodeHistogram, percentile, upperBoundMs } from '../../server/util/histogram.js';

function exactPercentile(values: number[], p: number) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!;
}

describe('latency histogram', () => {
  it('puts each value in the bucket whose bounds hold it', () => {
    for (const ms of [0, 0.5, 1, 1.1, 2, 3, 100, 1000, 12_345, 3_600_000]) {
      const i = bucketOf(ms);
      expect(ms).toBeLessThanOrEqual(upperBoundMs(i) + 1e-9);
      if (i > 0) expect(ms).toBeGreaterThan(upperBoundMs(i - 1));
    }
    expect(bucketOf(1e12)).toBe(BUCKETS - 1);
  });

  it('gives percentiles within a bucket width of the exact ones, for skewed data', () => {
    // Log-normal-ish: most jobs fast, a long tail.
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const values = Array.from({ length: 20_000 }, () => Math.exp(5 + 1.2 * Math.sqrt(-2 * Math.log(random() + 1e-12)) * Math.cos(2 * Math.PI * random())));
    const h = emptyHistogram();
    for (const v of values) h[bucketOf(v)]! += 1;
    for (const p of [0.5, 0.95, 0.99]) {
      const exact = exactPercentile(values, p);
      expect(Math.abs(percentile(h, p)! - exact) / exact).toBeLessThan(0.19);
    }
  });

  it('encodes compactly and adds up exactly', () => {
    const a = emptyHistogram();
    a[3] = 5;
    a[10] = 2;
    const encoded = encodeHistogram(a);
    expect(encoded.length).toBe(11 * 4);
    expect([...decodeHistogram(encoded)]).toEqual([...a]);
    expect(percentile(emptyHistogram(), 0.5)).toBeNull();
    expect(encodeHistogram(emptyHistogram()).length).toBe(0);
  });
});
