import { describe, expect, it } from 'vitest';
import { dimensionsFromHead, sniffFormat } from '../../server/media/sniff.js';
import { fixture, pngBomb, solid } from '../helpers/images.js';

describe('sniffing the first bytes', () => {
  it.each(['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif'] as const)('recognises %s by content', async (format) => {
    const bytes = await solid(40, 30, format);
    expect(await sniffFormat(bytes.subarray(0, 4100))).toBe(format);
  });

  it('recognises SVG, with or without an XML declaration, comments and doctype', async () => {
    expect(await sniffFormat(fixture('ipx-xss.svg'))).toBe('svg');
    expect(await sniffFormat(fixture('imgproxy-test1.svg'))).toBe('svg');
    expect(await sniffFormat(Buffer.from('<?xml version="1.0"?>\n<!-- hi -->\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "x">\n<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBe('svg');
  });

  it('refuses text, HTML, XML that is not SVG, PDFs and BMP', async () => {
    expect(await sniffFormat(Buffer.from('just some text'))).toBeUndefined();
    expect(await sniffFormat(Buffer.from('<html><body><svg></svg></body></html>'))).toBeUndefined();
    expect(await sniffFormat(Buffer.from('<?xml version="1.0"?><note>svg</note>'))).toBeUndefined();
    expect(await sniffFormat(Buffer.from('%PDF-1.7\n'))).toBeUndefined();
    expect(await sniffFormat(fixture('imgproxy-bmp-invalid-bpp.bmp'))).toBeUndefined();
  });

  it('reads dimensions from a partial header when they are there', async () => {
    expect(dimensionsFromHead(pngBomb().subarray(0, 64))).toEqual({ width: 60000, height: 60000 });
    expect(dimensionsFromHead(fixture('ipx-bliss.jpg').subarray(0, 4100))).toEqual({ width: 3840, height: 2160 });
    expect(dimensionsFromHead(Buffer.from('nothing'))).toBeUndefined();
  });
});
