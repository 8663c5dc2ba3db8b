import { describe, expect, it } from 'vitest';
import { releaseBuffer } from '../../server/storage/release-buffer.js';

const MiB = 1024 * 1024;

describe('releaseBuffer (freeing a Buffer before the garbage collector would)', () => {
  it('empties a Buffer that spans its own memory', () => {
    const chunk = Buffer.allocUnsafeSlow(64 * 1024).fill(7);
    expect(releaseBuffer(chunk)).toBe(true);
    expect(chunk.length).toBe(0);
    expect(chunk.buffer.byteLength).toBe(0);
  });

  it('leaves alone what is a slice of something larger or shared', () => {
    const pooled = Buffer.from('a few bytes from the shared pool');
    const parent = Buffer.allocUnsafeSlow(1024).fill(1);
    const slice = parent.subarray(0, 512);
    const shared = Buffer.from(new SharedArrayBuffer(1024));
    for (const chunk of [pooled, slice, shared]) {
      const before = Buffer.from(chunk);
      expect(releaseBuffer(chunk)).toBe(false);
      expect(chunk.equals(before)).toBe(true);
    }
    expect(parent.length).toBe(1024);
  });

  it('gives the memory back at once: 1 GiB of 64 KiB chunks never piles up', () => {
    const baseline = process.memoryUsage().arrayBuffers;
    let peak = 0;
    for (let i = 0; i < 16 * 1024; i++) {
      const chunk = Buffer.allocUnsafeSlow(64 * 1024);
      chunk[0] = i & 0xff;
      releaseBuffer(chunk);
      if (i % 256 === 0) peak = Math.max(peak, process.memoryUsage().arrayBuffers - baseline);
    }
    // Left to the collector, tens of MB of such chunks are alive between collections.
    expect(peak).toBeLessThan(4 * MiB);
  });
});
