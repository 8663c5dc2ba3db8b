import fs from 'node:fs';

/**
 * Writes 8-bit interleaved pixels as an uncompressed baseline TIFF carrying an ICC profile and an
 * orientation tag, read back by libvips like any TIFF.
 *
 * Why by hand: the decoded pixels are in the colour space of their profile (Display P3 for an
 * iPhone photo), and sharp can only attach a profile to pixels by converting them into it (from
 * sRGB, which these are not). An uncompressed TIFF is a header, the rows as they are, and one
 * directory of a dozen tags (TIFF 6.0, baseline RGB), so the rows go to the file straight from
 * the decoder's memory, a strip at a time, without another copy of the image.
 */
export interface TiffImage {
  width: number;
  height: number;
  /** 3 (RGB) or 4 (RGB and unassociated alpha). */
  channels: 3 | 4;
  /** The pixel rows, `stride` bytes apart (at least width × channels). */
  pixels: Uint8Array;
  stride: number;
  /** The channels per pixel in `pixels` (4 when the decoder gave RGBA and only RGB is kept). */
  sourceChannels: number;
  icc?: Uint8Array;
  /** The EXIF orientation (1–8) a reader should display the rows with. */
  orientation: number;
}

/** Strips of about this many bytes: libvips reads a TIFF a strip at a time. */
const STRIP_BYTES = 256 * 1024;
const MAX_CLASSIC_TIFF_BYTES = 2 ** 32 - 1;

const SHORT = 3;
const LONG = 4;
const UNDEFINED = 7;

export function writeTiff(path: string, image: TiffImage): void {
  const { width, height, channels } = image;
  const rowBytes = width * channels;
  const rowsPerStrip = Math.max(1, Math.min(height, Math.floor(STRIP_BYTES / rowBytes)));
  const strips = Math.ceil(height / rowsPerStrip);
  const pixelBytes = rowBytes * height;

  // Layout: header, the strips, then the values too long for a directory entry, then the directory.
  let at = 8 + pixelBytes;
  const place = (bytes: number) => {
    at += at % 2; // values start on a word boundary
    const offset = at;
    at += bytes;
    return offset;
  };
  const bitsAt = place(channels * 2);
  const offsetsAt = strips > 1 ? place(strips * 4) : 0;
  const countsAt = strips > 1 ? place(strips * 4) : 0;
  const iccAt = image.icc ? place(image.icc.length) : 0;
  const entries: Array<[tag: number, type: number, count: number, value: number]> = [
    [256, LONG, 1, width],
    [257, LONG, 1, height],
    [258, SHORT, channels, bitsAt],
    [259, SHORT, 1, 1], // no compression
    [262, SHORT, 1, 2], // RGB
    [273, LONG, strips, strips > 1 ? offsetsAt : 8],
    [274, SHORT, 1, image.orientation],
    [277, SHORT, 1, channels],
    [278, LONG, 1, rowsPerStrip],
    [279, LONG, strips, strips > 1 ? countsAt : pixelBytes],
    [284, SHORT, 1, 1], // chunky: the channels of a pixel together
  ];
  if (channels === 4) entries.push([338, SHORT, 1, 2]); // the fourth channel is unassociated alpha
  if (image.icc) entries.push([34675, UNDEFINED, image.icc.length, iccAt]);
  const directoryAt = place(2 + entries.length * 12 + 4);
  if (at > MAX_CLASSIC_TIFF_BYTES) throw new Error(`a ${width}×${height} image is too large for an uncompressed TIFF`);

  const fd = fs.openSync(path, 'w');
  try {
    const header = Buffer.alloc(8);
    header.write('II', 0, 'latin1');
    header.writeUInt16LE(42, 2);
    header.writeUInt32LE(directoryAt, 4);
    fs.writeSync(fd, header, 0, 8, 0);

    const strip = Buffer.allocUnsafe(rowBytes * rowsPerStrip);
    for (let s = 0; s < strips; s++) {
      const first = s * rowsPerStrip;
      const rows = Math.min(rowsPerStrip, height - first);
      for (let r = 0; r < rows; r++) copyRow(image, first + r, strip, r * rowBytes);
      fs.writeSync(fd, strip, 0, rows * rowBytes, 8 + first * rowBytes);
    }

    const values = Buffer.alloc(at - (8 + pixelBytes));
    const put = (offset: number) => offset - (8 + pixelBytes);
    for (let c = 0; c < channels; c++) values.writeUInt16LE(8, put(bitsAt) + c * 2);
    if (strips > 1) {
      for (let s = 0; s < strips; s++) {
        const rows = Math.min(rowsPerStrip, height - s * rowsPerStrip);
        values.writeUInt32LE(8 + s * rowsPerStrip * rowBytes, put(offsetsAt) + s * 4);
        values.writeUInt32LE(rows * rowBytes, put(countsAt) + s * 4);
      }
    }
    if (image.icc) values.set(image.icc, put(iccAt));
    let d = put(directoryAt);
    values.writeUInt16LE(entries.length, d);
    d += 2;
    for (const [tag, type, count, value] of entries) {
      values.writeUInt16LE(tag, d);
      values.writeUInt16LE(type, d + 2);
      values.writeUInt32LE(count, d + 4);
      // A single SHORT sits in the first two bytes of the value field; anything else is a LONG or an offset.
      if (type === SHORT && count === 1) values.writeUInt16LE(value, d + 8);
      else values.writeUInt32LE(value, d + 8);
      d += 12;
    }
    values.writeUInt32LE(0, d); // no further directory
    fs.writeSync(fd, values, 0, values.length, 8 + pixelBytes);
  } finally {
    fs.closeSync(fd);
  }
}

function copyRow(image: TiffImage, y: number, into: Buffer, at: number): void {
  const { width, channels, sourceChannels, pixels, stride } = image;
  const start = y * stride;
  if (sourceChannels === channels) {
    into.set(pixels.subarray(start, start + width * channels), at);
    return;
  }
  // Fewer channels kept than given (an opaque image decoded with alpha): copied pixel by pixel.
  for (let x = 0, from = start, to = at; x < width; x++, from += sourceChannels, to += channels) {
    for (let c = 0; c < channels; c++) into[to + c] = pixels[from + c]!;
  }
}
