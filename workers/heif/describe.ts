import exifr from 'exifr';
import type { Metadata } from 'sharp';
import { orientationOf, readHeifLayout, swapsSides, type HeifLayout } from './layout.js';

/** A HEIF image as its header describes it, consistently with how a JPEG is described. */
export interface HeifDescription {
  layout: HeifLayout;
  /** The primary image's size before its orientation (as a JPEG's header gives it). */
  width: number;
  height: number;
  /** The EXIF orientation (1–8) that displays it: the container's transforms, or without any, the EXIF tag. */
  orientation: number;
  /** What is left to apply once libheif has decoded it (it applies the container's transforms itself). */
  orientationAfterDecode: number;
}

/**
 * Describes the primary image of a HEIF file from its header (`meta`: sharp's libheif for the
 * size and EXIF, workers/heif/layout.ts for the transforms), decoding nothing.
 *
 * Orientation exactly once: HEIF displays an image by its container's transforms (`irot`,
 * `imir`), which libheif applies when it decodes. iPhones write those and an EXIF orientation
 * saying the same; applying both would turn the photo twice, so where there are transforms the
 * EXIF tag is not applied. Files without transforms (converters that copy a JPEG's EXIF as it
 * is, such as Debian 12's heif-enc) are displayed by their EXIF tag, as the JPEG was.
 */
export async function describeHeif(file: string, meta: Metadata): Promise<HeifDescription> {
  const layout = await readHeifLayout(file);
  const transformed = orientationOf(layout.transforms);
  const fromExif = layout.transforms.length ? 1 : await exifOrientation(meta.exif);
  // libheif gives the size after the transforms: a quarter turn among them is turned back.
  const turned = swapsSides(transformed);
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  return {
    layout,
    width: turned ? height : width,
    height: turned ? width : height,
    orientation: layout.transforms.length ? transformed : fromExif,
    orientationAfterDecode: fromExif,
  };
}

/** The EXIF orientation tag (1–8), or 1 when there is none or it is not one of those. */
export async function exifOrientation(exif: Buffer | undefined): Promise<number> {
  if (!exif) return 1;
  try {
    const value = await exifr.orientation(exif);
    return typeof value === 'number' && value >= 1 && value <= 8 ? value : 1;
  } catch {
    return 1; // unreadable EXIF says nothing about the pixels
  }
}
