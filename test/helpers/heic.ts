import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Real HEVC-coded HEIC files for the tests, made by libheif's own encoder (`heif-enc`, Debian's
 * libheif-examples, with x265) from JPEGs and PNGs the tests make with sharp; and, from what it
 * encodes, the shapes phones write that heif-enc does not: grid-tiled images, `irot`/`imir`
 * transforms next to an EXIF orientation, several images with the primary not the first.
 */

/** heif-enc is on this machine (CI installs it; tests that need it say so in their names when it is not). */
export const HAS_HEIF_ENC = spawnSync('heif-enc', ['--help'], { stdio: 'ignore' }).error === undefined;
export const needsHeifEnc = HAS_HEIF_ENC ? '' : ' [skipped: heif-enc is not installed (Debian: libheif-examples)]';

/**
 * Encodes an image file's bytes (JPEG, or PNG: 16-bit PNGs make 10-bit HEICs, alpha is kept) with
 * heif-enc in a temp folder. heif-enc copies a JPEG's EXIF and ICC profile into the HEIC.
 */
export function heifEnc(input: Buffer, extension: 'jpg' | 'png', args: string[] = []): Buffer {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'darkroom-heif-enc-'));
  try {
    const source = path.join(dir, `in.${extension}`);
    const output = path.join(dir, 'out.heic');
    fs.writeFileSync(source, input);
    const run = spawnSync('heif-enc', ['-q', '90', ...args, '-o', output, source], { encoding: 'utf8', timeout: 60_000 });
    if (run.status !== 0) throw new Error(`heif-enc failed (${run.status ?? run.signal}): ${run.stderr}`);
    return fs.readFileSync(output);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ---- Reading what heif-enc wrote ------------------------------------------------------------

interface RawBox {
  type: string;
  /** The whole box, header included. */
  bytes: Buffer;
  body: Buffer;
}

function boxes(data: Buffer): RawBox[] {
  const out: RawBox[] = [];
  for (let at = 0; at + 8 <= data.length; ) {
    const length = data.readUInt32BE(at);
    if (length < 8 || at + length > data.length) throw new Error('malformed box in test input');
    out.push({ type: data.toString('latin1', at + 4, at + 8), bytes: data.subarray(at, at + length), body: data.subarray(at + 8, at + length) });
    at += length;
  }
  return out;
}

const child = (list: RawBox[], type: string) => list.find((b) => b.type === type);

/** One coded image as heif-enc wrote it: its properties (hvcC, ispe, colr, pixi …) and its HEVC data. */
export interface CodedImage {
  properties: Buffer[];
  data: Buffer;
  /** The EXIF item's contents (4-byte header offset, then the TIFF block), if the file has one. */
  exif?: Buffer;
}

/** The primary image of a single-image HEIC from heif-enc, without its transforms. */
export function codedImage(heic: Buffer): CodedImage {
  const meta = child(boxes(heic), 'meta');
  if (!meta) throw new Error('no meta box');
  const inner = boxes(meta.body.subarray(4));
  const primary = child(inner, 'pitm')!.body.readUInt16BE(4);
  const ipco = boxes(child(boxes(child(inner, 'iprp')!.body), 'ipco')!.body);
  const ipma = child(boxes(child(inner, 'iprp')!.body), 'ipma')!.body;
  const wide = (ipma.readUIntBE(1, 3) & 1) !== 0;
  const properties: Buffer[] = [];
  let at = 8;
  for (let n = ipma.readUInt32BE(4), i = 0; i < n; i++) {
    const id = ipma.readUInt16BE(at);
    const count = ipma[at + 2]!;
    at += 3;
    for (let a = 0; a < count; a++) {
      const index = wide ? ipma.readUInt16BE(at) & 0x7fff : ipma[at]! & 0x7f;
      at += wide ? 2 : 1;
      const property = ipco[index - 1]!;
      if (id === primary && property.type !== 'irot' && property.type !== 'imir') properties.push(property.bytes);
    }
  }
  const locations = itemLocations(heic, child(inner, 'iloc')!.body);
  const exifId = itemIdsOfType(child(inner, 'iinf')!.body, 'Exif')[0];
  return { properties, data: locations.get(primary)!, ...(exifId !== undefined ? { exif: locations.get(exifId)! } : {}) };
}

function itemIdsOfType(iinf: Buffer, type: string): number[] {
  const version = iinf[0];
  const entries = boxes(iinf.subarray(version === 0 ? 6 : 8));
  return entries.filter((e) => e.body.toString('latin1', 8, 12) === type).map((e) => e.body.readUInt16BE(4));
}

/** Each item's bytes (iloc, construction method 0: offsets into the file; base offsets included). */
function itemLocations(file: Buffer, iloc: Buffer): Map<number, Buffer> {
  const version = iloc[0]!;
  let at = 4;
  const offsetSize = iloc[at]! >> 4;
  const lengthSize = iloc[at]! & 15;
  const baseSize = iloc[at + 1]! >> 4;
  const indexSize = version >= 1 ? iloc[at + 1]! & 15 : 0;
  at += 2;
  const read = (size: number) => {
    const value = size === 0 ? 0 : size === 8 ? Number(iloc.readBigUInt64BE(at)) : iloc.readUIntBE(at, size);
    at += size;
    return value;
  };
  const items = read(version < 2 ? 2 : 4);
  const found = new Map<number, Buffer>();
  for (let i = 0; i < items; i++) {
    const id = read(version < 2 ? 2 : 4);
    if (version >= 1) read(2); // construction method: 0 in what heif-enc writes
    read(2); // data reference index
    const base = read(baseSize);
    const extents = read(2);
    const parts: Buffer[] = [];
    for (let e = 0; e < extents; e++) {
      read(indexSize);
      const offset = read(offsetSize);
      const length = read(lengthSize);
      parts.push(file.subarray(base + offset, base + offset + length));
    }
    found.set(id, Buffer.concat(parts));
  }
  return found;
}

// ---- Writing HEIF files of other shapes -----------------------------------------------------

const u8 = (n: number) => Buffer.from([n]);
const u16 = (n: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
};
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};
export function box(type: string, ...parts: Buffer[]): Buffer {
  const body = Buffer.concat(parts);
  return Buffer.concat([u32(8 + body.length), Buffer.from(type, 'latin1'), body]);
}
export function fullBox(type: string, version: number, flags: number, ...parts: Buffer[]): Buffer {
  return box(type, u8(version), u8((flags >> 16) & 255), u16(flags & 0xffff), ...parts);
}

/** `ispe`: an image's size as coded. */
export const ispe = (width: number, height: number) => fullBox('ispe', 0, 0, u32(width), u32(height));
/** `irot`: turned anticlockwise by quarter turns. */
export const irot = (anticlockwiseQuarterTurns: number) => box('irot', u8(anticlockwiseQuarterTurns & 3));
/** `imir`: mirrored, as libheif applies it: axis 0 swaps top and bottom, 1 left and right. */
export const imir = (axis: 0 | 1) => box('imir', u8(axis));

/**
 * The transforms, in the order HEIF lists them (irot, then imir), that display an image as EXIF
 * orientation `n` displays its stored pixels. An orientation is a mirror (left-right) or not
 * followed by r clockwise quarter turns; a turn and then a mirror is the same mirror followed by
 * the turn the other way, so "mirror, r clockwise" is "r anticlockwise, then mirror".
 */
export function transformsFor(orientation: number): Buffer[] {
  const [mirrored, clockwise] = ({ 1: [false, 0], 6: [false, 1], 3: [false, 2], 8: [false, 3], 2: [true, 0], 7: [true, 1], 4: [true, 2], 5: [true, 3] } as const)[
    orientation as 1
  ];
  if (!mirrored) return clockwise ? [irot(4 - clockwise)] : [];
  return [...(clockwise ? [irot(clockwise)] : []), imir(1)];
}

export interface ItemSpec {
  id: number;
  type: 'hvc1' | 'grid' | 'Exif';
  data: Buffer;
  /** Property boxes, each associated with the item in this order; essential ones are marked so. */
  properties?: Buffer[];
  hidden?: boolean;
}

/**
 * A HEIF file of these items: ftyp, meta (hdlr, pitm, iinf, iref, iprp, iloc) and mdat, as
 * libheif and phones lay it out.
 */
export function writeHeif(options: { items: ItemSpec[]; primary: number; references?: Array<{ type: 'dimg' | 'cdsc' | 'thmb'; from: number; to: number[] }> }): Buffer {
  const ftyp = box('ftyp', Buffer.from('heic'), u32(0), Buffer.from('mif1heicmiaf'));
  const hdlr = fullBox('hdlr', 0, 0, u32(0), Buffer.from('pict'), u32(0), u32(0), u32(0), u8(0));
  const pitm = fullBox('pitm', 0, 0, u16(options.primary));
  const iinf = fullBox(
    'iinf',
    0,
    0,
    u16(options.items.length),
    ...options.items.map((item) => fullBox('infe', 2, item.hidden ? 1 : 0, u16(item.id), u16(0), Buffer.from(item.type, 'latin1'), u8(0))),
  );
  const iref = options.references?.length
    ? fullBox('iref', 0, 0, ...options.references.map((r) => box(r.type, u16(r.from), u16(r.to.length), ...r.to.map(u16))))
    : Buffer.alloc(0);
  // Properties shared by content, numbered from 1 in ipco.
  const unique: Buffer[] = [];
  const indexOf = (p: Buffer) => {
    let i = unique.findIndex((u) => u.equals(p));
    if (i < 0) i = unique.push(p) - 1;
    return i + 1;
  };
  const essential = new Set(['hvcC', 'irot', 'imir']);
  const associated = options.items.filter((i) => i.properties?.length);
  const ipmaEntries = associated.map((item) =>
    Buffer.concat([
      u16(item.id),
      u8(item.properties!.length),
      ...item.properties!.map((p) => u8((essential.has(p.toString('latin1', 4, 8)) ? 0x80 : 0) | indexOf(p))),
    ]),
  );
  if (unique.length > 127) throw new Error('too many distinct properties for one-byte ipma entries');
  const iprp = box('iprp', box('ipco', ...unique), fullBox('ipma', 0, 0, u32(associated.length), ...ipmaEntries));
  // iloc version 0, 4-byte offsets and lengths, no base offset: each item one extent in mdat.
  const ilocFor = (offsets: number[]) =>
    fullBox('iloc', 0, 0, u8(0x44), u8(0x00), u16(options.items.length), ...options.items.map((item, i) => Buffer.concat([u16(item.id), u16(0), u16(1), u32(offsets[i]!), u32(item.data.length)])));
  const metaFor = (offsets: number[]) => fullBox('meta', 0, 0, hdlr, pitm, ilocFor(offsets), iinf, iref, iprp);
  const dataStart = ftyp.length + metaFor(options.items.map(() => 0)).length + 8;
  const offsets: number[] = [];
  let at = dataStart;
  for (const item of options.items) {
    offsets.push(at);
    at += item.data.length;
  }
  return Buffer.concat([ftyp, metaFor(offsets), box('mdat', ...options.items.map((i) => i.data))]);
}

/** A grid item's data: rows × columns of tiles cropped to width × height (ISO/IEC 23008-12 6.6.2.3). */
export const gridData = (rows: number, columns: number, width: number, height: number) =>
  Buffer.concat([u8(0), u8(0), u8(rows - 1), u8(columns - 1), u16(width), u16(height)]);

/** A single coded image re-laid with other transforms (and its EXIF item, describing it). */
export function withTransforms(image: CodedImage, transforms: Buffer[]): Buffer {
  const items: ItemSpec[] = [{ id: 1, type: 'hvc1', data: image.data, properties: [...image.properties, ...transforms] }];
  const references: Array<{ type: 'cdsc'; from: number; to: number[] }> = [];
  if (image.exif) {
    items.push({ id: 2, type: 'Exif', data: image.exif, hidden: true });
    references.push({ type: 'cdsc', from: 2, to: [1] });
  }
  return writeHeif({ items, primary: 1, references });
}
