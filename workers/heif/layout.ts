import fs from 'node:fs';

/**
 * What a HEIF file says about its primary image in its `meta` box, read without decoding
 * anything: its size as coded (`ispe`), the transforms a viewer applies to display it (`irot`,
 * `imir`), and its colour (`colr`: an ICC profile or `nclx` code points).
 *
 * Why this is read here rather than by a library: libheif (through sharp) gives the size after
 * the transforms but not the transforms themselves, and no `nclx`; exifr's HEIF reader takes the
 * first `colr` box of any item and ignores `iloc` base offsets (which libheif writes). The boxes
 * needed are few and of fixed layout (ISO/IEC 14496-12 and 23008-12), so they are read by hand,
 * every length checked against what contains it.
 */
export interface HeifLayout {
  primaryItem: number;
  /** The primary item's type: `hvc1` (one coded image), `grid` (tiles), `iden`, `av01`, … */
  itemType: string | undefined;
  /** The primary image's size as coded, before its transforms (its `ispe` property). */
  codedSize: { width: number; height: number } | undefined;
  /** `irot` and `imir` in the order they apply, as the primary item's properties list them. */
  transforms: HeifTransform[];
  colour: { icc: Buffer } | { nclx: Nclx } | undefined;
  /** Where the primary item's bytes are. */
  location?: { method: number; extents: Array<{ offset: number; length: number }> };
}

export type HeifTransform = { kind: 'rotate'; anticlockwiseQuarterTurns: number } | { kind: 'mirror'; swap: 'top-bottom' | 'left-right' };

/** Colour code points of ITU-T H.273 (`colour_primaries` 1 is BT.709/sRGB, 12 is Display P3). */
export interface Nclx {
  primaries: number;
  transfer: number;
  matrix: number;
  fullRange: boolean;
}

/** The file is not the HEIF it claimed to be: a box runs past its container, a property is missing. */
export class MalformedHeif extends Error {}

/** Past this the `meta` box is not a photo's (an iPhone's, 48 tiles and a thumbnail, is ~10 KB). */
const MAX_META_BYTES = 4 * 1024 * 1024;
/** The top-level boxes before `meta` (just `ftyp` in every writer seen) are skipped, at most this many. */
const MAX_TOP_LEVEL_BOXES = 16;

interface Box {
  type: string;
  /** The box's contents, after its header (and after version and flags for a full box, when read so). */
  body: Buffer;
}

/** Reads the `meta` box of a HEIF file and describes its primary image. */
export async function readHeifLayout(file: string): Promise<HeifLayout> {
  const handle = await fs.promises.open(file, 'r');
  try {
    const size = (await handle.stat()).size;
    let offset = 0;
    for (let n = 0; n < MAX_TOP_LEVEL_BOXES && offset + 8 <= size; n++) {
      const header = Buffer.alloc(16);
      await handle.read(header, 0, 16, offset);
      let length = header.readUInt32BE(0);
      const type = header.toString('latin1', 4, 8);
      let headerLength = 8;
      if (length === 1) {
        length = Number(header.readBigUInt64BE(8));
        headerLength = 16;
      } else if (length === 0) {
        length = size - offset;
      }
      if (length < headerLength || offset + length > size) throw new MalformedHeif(`the ${printable(type)} box runs past the end of the file`);
      if (type === 'meta') {
        if (length > MAX_META_BYTES) throw new MalformedHeif(`the meta box is ${length} bytes, more than a photo's ever is`);
        const body = Buffer.alloc(length - headerLength);
        await handle.read(body, 0, body.length, offset + headerLength);
        const layout = describe(body);
        if (layout.itemType === 'grid') await checkGrid(layout, body, handle, size);
        return layout;
      }
      offset += length;
    }
    throw new MalformedHeif('no meta box');
  } finally {
    await handle.close();
  }
}

/** The `meta` box's contents (a full box: version and flags first). */
export function describe(meta: Buffer): HeifLayout {
  const boxes = children(fullBody(meta, 'meta'));
  const pitm = boxes.find((b) => b.type === 'pitm');
  if (!pitm) throw new MalformedHeif('no primary item (pitm)');
  const primaryItem = readItemId(pitm.body);
  const iinf = boxes.find((b) => b.type === 'iinf');
  const itemType = iinf ? itemTypes(iinf.body).get(primaryItem) : undefined;
  const iprp = boxes.find((b) => b.type === 'iprp');
  const properties = iprp ? propertiesOf(primaryItem, children(iprp.body)) : [];

  let codedSize: HeifLayout['codedSize'];
  const transforms: HeifTransform[] = [];
  let colour: HeifLayout['colour'];
  for (const property of properties) {
    switch (property.type) {
      case 'ispe': {
        const body = fullBody(property.body, 'ispe');
        need(body, 8, 'ispe');
        codedSize = { width: body.readUInt32BE(0), height: body.readUInt32BE(4) };
        break;
      }
      case 'irot':
        need(property.body, 1, 'irot');
        transforms.push({ kind: 'rotate', anticlockwiseQuarterTurns: property.body[0]! & 3 });
        break;
      case 'imir':
        need(property.body, 1, 'imir');
        // As libheif (the decoder here, and the reader most software uses) applies it: axis 0
        // swaps top and bottom, 1 left and right. The standard's wording ("a vertical axis") has
        // been read the other way too (libavif); the orientation reported follows the pixels made.
        transforms.push({ kind: 'mirror', swap: (property.body[0]! & 1) === 0 ? 'top-bottom' : 'left-right' });
        break;
      case 'colr': {
        // An item may carry an ICC profile and nclx both; the profile says more.
        const found = readColour(property.body);
        if (found && !(colour && 'icc' in colour)) colour = found;
        break;
      }
    }
  }
  const iloc = boxes.find((b) => b.type === 'iloc');
  const location = iloc ? itemLocation(iloc.body, primaryItem) : undefined;
  return { primaryItem, itemType, codedSize, transforms, colour, ...(location ? { location } : {}) };
}

/** Where an item's bytes are (iloc): in the file (construction method 0) or in the meta box's idat (1). */
interface ItemLocation {
  method: number;
  extents: Array<{ offset: number; length: number }>;
}

/**
 * A grid's own description of its size (its item's data: ISO/IEC 23008-12 6.6.2.3) must be its
 * `ispe`: libheif sizes the canvas it decodes into from the former, sharp reports the latter, and
 * a file whose two disagree would pass the pixel limit at one size and decode at another.
 */
async function checkGrid(layout: HeifLayout, meta: Buffer, handle: fs.promises.FileHandle, fileSize: number): Promise<void> {
  const where = layout.location;
  if (!where || where.extents.length !== 1) throw new MalformedHeif('the grid has no single location for its description');
  const { offset, length } = where.extents[0]!;
  if (length < 8 || length > 12) throw new MalformedHeif(`the grid description is ${length} bytes`);
  let data: Buffer;
  if (where.method === 1) {
    const idat = children(fullBody(meta, 'meta')).find((b) => b.type === 'idat');
    if (!idat || offset + length > idat.body.length) throw new MalformedHeif('the grid description lies outside idat');
    data = idat.body.subarray(offset, offset + length);
  } else if (where.method === 0) {
    if (offset + length > fileSize) throw new MalformedHeif('the grid description lies past the end of the file');
    data = Buffer.alloc(length);
    await handle.read(data, 0, length, offset);
  } else {
    throw new MalformedHeif(`the grid description is in construction method ${where.method}`);
  }
  const wide = (data[1]! & 1) !== 0;
  need(data, wide ? 12 : 8, 'grid');
  const size = wide ? { width: data.readUInt32BE(4), height: data.readUInt32BE(8) } : { width: data.readUInt16BE(4), height: data.readUInt16BE(6) };
  const coded = layout.codedSize;
  if (!coded) layout.codedSize = size;
  else if (coded.width !== size.width || coded.height !== size.height) {
    throw new MalformedHeif(`the grid describes ${size.width}×${size.height} pixels but its ispe says ${coded.width}×${coded.height}`);
  }
}

function itemLocation(iloc: Buffer, item: number): ItemLocation | undefined {
  const version = iloc[0];
  if (version === undefined || version > 2) throw new MalformedHeif(`iloc version ${version} is unknown`);
  const body = fullBody(iloc, 'iloc');
  need(body, 2, 'iloc');
  const offsetSize = body[0]! >> 4;
  const lengthSize = body[0]! & 15;
  const baseSize = body[1]! >> 4;
  const indexSize = version >= 1 ? body[1]! & 15 : 0;
  for (const size of [offsetSize, lengthSize, baseSize, indexSize]) {
    if (![0, 4, 8].includes(size)) throw new MalformedHeif(`iloc field size ${size} is not 0, 4 or 8`);
  }
  let at = 2;
  const read = (bytes: number) => {
    need(body, at + bytes, 'iloc');
    const value = bytes === 0 ? 0 : bytes === 8 ? Number(body.readBigUInt64BE(at)) : body.readUIntBE(at, bytes);
    at += bytes;
    return value;
  };
  const count = read(version < 2 ? 2 : 4);
  for (let i = 0; i < count; i++) {
    const id = read(version < 2 ? 2 : 4);
    const method = version >= 1 ? read(2) & 15 : 0;
    read(2); // data reference index: 0, this file
    const base = read(baseSize);
    const extentCount = read(2);
    const extents: ItemLocation['extents'] = [];
    for (let e = 0; e < extentCount; e++) {
      read(indexSize);
      const offset = read(offsetSize);
      const length = read(lengthSize);
      extents.push({ offset: base + offset, length });
    }
    if (id === item) return { method, extents };
  }
  return undefined;
}

function readColour(body: Buffer): HeifLayout['colour'] {
  need(body, 4, 'colr');
  const kind = body.toString('latin1', 0, 4);
  if (kind === 'prof' || kind === 'rICC') return { icc: Buffer.from(body.subarray(4)) };
  if (kind === 'nclx') {
    need(body, 11, 'colr');
    return {
      nclx: { primaries: body.readUInt16BE(4), transfer: body.readUInt16BE(6), matrix: body.readUInt16BE(8), fullRange: (body[10]! & 0x80) !== 0 },
    };
  }
  return undefined;
}

/** The properties associated with `item` (ipma), in the order listed: the order transforms apply. */
function propertiesOf(item: number, iprp: Box[]): Box[] {
  const ipco = iprp.find((b) => b.type === 'ipco');
  if (!ipco) return [];
  const all = children(ipco.body);
  const found: Box[] = [];
  for (const ipma of iprp.filter((b) => b.type === 'ipma')) {
    const version = ipma.body[0];
    const flags = ipma.body.readUIntBE(1, 3);
    const body = ipma.body.subarray(4);
    need(body, 4, 'ipma');
    const count = body.readUInt32BE(0);
    let at = 4;
    for (let i = 0; i < count; i++) {
      need(body, at + (version === 0 ? 3 : 5), 'ipma');
      const id = version === 0 ? body.readUInt16BE(at) : body.readUInt32BE(at);
      at += version === 0 ? 2 : 4;
      const associations = body[at]!;
      at += 1;
      const wide = (flags & 1) !== 0;
      need(body, at + associations * (wide ? 2 : 1), 'ipma');
      for (let a = 0; a < associations; a++) {
        const index = wide ? body.readUInt16BE(at) & 0x7fff : body[at]! & 0x7f;
        at += wide ? 2 : 1;
        // Index 0 means "no property"; the others count from 1.
        if (id === item && index > 0) {
          const property = all[index - 1];
          if (!property) throw new MalformedHeif(`item ${item} refers to property ${index}, which does not exist`);
          found.push(property);
        }
      }
    }
  }
  return found;
}

function itemTypes(iinf: Buffer): Map<number, string> {
  const body = fullBody(iinf, 'iinf');
  const version = iinf[0];
  const countBytes = version === 0 ? 2 : 4;
  need(body, countBytes, 'iinf');
  const types = new Map<number, string>();
  for (const infe of children(body.subarray(countBytes))) {
    if (infe.type !== 'infe') continue;
    const infeVersion = infe.body[0] ?? 0;
    if (infeVersion < 2) continue; // versions 0 and 1 name no item type
    const entry = fullBody(infe.body, 'infe');
    const idBytes = infeVersion === 2 ? 2 : 4;
    need(entry, idBytes + 2 + 4, 'infe');
    types.set(entry.readUIntBE(0, idBytes), entry.toString('latin1', idBytes + 2, idBytes + 6));
  }
  return types;
}

function readItemId(pitm: Buffer): number {
  const body = fullBody(pitm, 'pitm');
  if (pitm[0] === 0) {
    need(body, 2, 'pitm');
    return body.readUInt16BE(0);
  }
  need(body, 4, 'pitm');
  return body.readUInt32BE(0);
}

/** The boxes one after another in `data`, each checked to lie within it. */
function children(data: Buffer): Box[] {
  const boxes: Box[] = [];
  let at = 0;
  while (at + 8 <= data.length) {
    let length = data.readUInt32BE(at);
    const type = data.toString('latin1', at + 4, at + 8);
    let headerLength = 8;
    if (length === 1) {
      need(data, at + 16, type);
      length = Number(data.readBigUInt64BE(at + 8));
      headerLength = 16;
    } else if (length === 0) {
      length = data.length - at;
    }
    if (length < headerLength || at + length > data.length) throw new MalformedHeif(`the ${printable(type)} box runs past what contains it`);
    boxes.push({ type, body: data.subarray(at + headerLength, at + length) });
    at += length;
  }
  return boxes;
}

/** A full box's contents after its version and flags. */
function fullBody(body: Buffer, type: string): Buffer {
  need(body, 4, type);
  return body.subarray(4);
}

function need(body: Buffer, bytes: number, type: string): void {
  if (body.length < bytes) throw new MalformedHeif(`the ${printable(type)} box is too short`);
}

const printable = (type: string) => type.replace(/[^\x20-\x7e]/g, '?');

/**
 * The EXIF orientation (1–8) that displays the coded image as the transforms do, or 1 without
 * any: the number the metadata API gives for any image, and what `autoOrient` turns a JPEG by.
 *
 * Each orientation is kept as "mirror left-right or not, then turn clockwise by r quarter turns";
 * EXIF's numbers in that form: 1 (no, 0), 6 (no, 1), 3 (no, 2), 8 (no, 3), 2 (yes, 0), 7 (yes, 1),
 * 4 (yes, 2), 5 (yes, 3).
 */
export function orientationOf(transforms: readonly HeifTransform[]): number {
  let mirrored = false;
  let turns = 0;
  for (const t of transforms) {
    // A mirror after a turn is the same as the mirror first and the turn the other way.
    const step =
      t.kind === 'rotate' ? { mirrored: false, turns: (4 - t.anticlockwiseQuarterTurns) % 4 } : { mirrored: true, turns: t.swap === 'left-right' ? 0 : 2 };
    turns = ((step.mirrored ? -turns : turns) + step.turns + 4) % 4;
    mirrored = mirrored !== step.mirrored;
  }
  return (mirrored ? [2, 7, 4, 5] : [1, 6, 3, 8])[turns]!;
}

/** True when an orientation turns the image a quarter (its displayed width is its coded height). */
export const swapsSides = (orientation: number) => orientation >= 5 && orientation <= 8;
