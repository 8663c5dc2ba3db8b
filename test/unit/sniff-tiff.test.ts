import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { sniffFormat } from '../../server/media/sniff.js';

describe('sniffing TIFF', () => {
  it('recognises a TIFF whose first directory comes after the pixels, from its first bytes alone', async () => {
    // Uncompressed, written by libvips: the directory is at the end, far past the head.
    const tiff = await sharp({ create: { width: 1200, height: 900, channels: 3, background: '#336699' } }).tiff({ compression: 'none' }).toBuffer();
    expect(tiff.readUInt32LE(4)).toBeGreaterThan(4100);
    expect(await sniffFormat(tiff.subarray(0, 4100))).toBe('tiff');
  });

  it('still refuses text that starts with the same letters', async () => {
    expect(await sniffFormat(Buffer.from('MM is not a tiff, just text'))).toBeUndefined();
    expect(await sniffFormat(Buffer.from('II is not a tiff either'))).toBeUndefined();
  });
});
