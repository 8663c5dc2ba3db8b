import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { backoffMs } from '../../server/jobs/runner.js';
import { decodeCursor, encodeCursor } from '../../server/services/images.service.js';
import { cleanFilename } from '../../server/services/ingest/accept.js';
import { originalDownloadName } from '../../server/media/formats.js';
import { resolveInside } from '../../server/storage/safe-path.js';
import { exifDateToIso } from '../../workers/exif-date.js';
import { classifyError } from '../../workers/failures.js';
import { tempDir } from '../helpers/server.js';

describe('small parts', () => {
  it('keeps paths inside their root, also through symlinks', () => {
    const root = tempDir();
    const outside = tempDir();
    fs.mkdirSync(path.join(root, 'a'));
    expect(resolveInside(root, 'a', 'b.txt')).toBe(path.join(fs.realpathSync(root), 'a', 'b.txt'));
    expect(() => resolveInside(root, '../etc/passwd')).toThrow(/escapes/);
    expect(() => resolveInside(root, '/etc/passwd')).toThrow(/escapes/);
    fs.symlinkSync(outside, path.join(root, 'link'));
    expect(() => resolveInside(root, 'link')).toThrow(/escapes/);
  });

  it('backs off exponentially with jitter, capped at five minutes', () => {
    expect(backoffMs(1, () => 0)).toBe(500);
    expect(backoffMs(1, () => 1)).toBe(1000);
    expect(backoffMs(4, () => 1)).toBe(8000);
    expect(backoffMs(30, () => 1)).toBe(300_000);
  });

  it('round-trips list cursors and refuses forged ones', () => {
    const c = encodeCursor({ created_at: 123, id: 'abc' });
    expect(decodeCursor(c)).toEqual({ createdAt: 123, id: 'abc' });
    expect(() => decodeCursor('nope')).toThrow(/cursor/);
    expect(() => decodeCursor(Buffer.from('[1,2]').toString('base64url'))).toThrow(/cursor/);
  });

  it('turns uploaded names into display names, never paths', () => {
    expect(cleanFilename('../../etc/passwd')).toBe('passwd');
    expect(cleanFilename('C:\\Users\\me\\photo.JPG')).toBe('photo.JPG');
    expect(cleanFilename('a\u0000b\nc.png')).toBe('abc.png');
    expect(cleanFilename('')).toBe('upload');
    expect(cleanFilename(undefined)).toBe('upload');
  });

  it('writes EXIF dates as ISO local time', () => {
    expect(exifDateToIso('2024:06:01 14:03:22')).toBe('2024-06-01T14:03:22');
    expect(exifDateToIso('garbage')).toBe('garbage');
  });

  it('tells a broken image from a passing failure', () => {
    expect(classifyError(new Error('VipsJpeg: premature end of JPEG image'))).toMatchObject({ code: 'corrupt_image', retryable: false });
    expect(classifyError(Object.assign(new Error('no space'), { code: 'ENOSPC' }))).toMatchObject({ code: 'processing_failed', retryable: true });
    expect(classifyError(Object.assign(new Error('gone'), { code: 'ENOENT' }))).toMatchObject({ code: 'original_missing' });
    // libvips says no more than this about some broken files (a corrupt interlaced PNG).
    expect(classifyError(new Error('Unknown error'))).toMatchObject({ code: 'corrupt_image', retryable: false });
    expect(classifyError(new Error('VipsForeignSave: wbuffer_write: write failed\nsystem error: No space left on device'))).toMatchObject({
      code: 'processing_failed',
      retryable: true,
    });
    expect(classifyError(new Error('webpsave: unable to encode\nwbuffer_write: write failed'))).toMatchObject({ code: 'processing_failed', retryable: false });
    expect(classifyError(new TypeError("Cannot read properties of undefined (reading 'width')"))).toMatchObject({ code: 'processing_failed', retryable: true });
    expect(classifyError(new Error('timeout: 58% complete'))).toMatchObject({ code: 'processing_timeout', retryable: true });
  });
});

describe('originalDownloadName', () => {
  it('keeps a name that ends in one of its format\'s extensions and adds the usual one otherwise', () => {
    expect(originalDownloadName('IMG_0001.HEIC', 'heif')).toBe('IMG_0001.HEIC');
    expect(originalDownloadName('upload', 'heif')).toBe('upload.heic');
    expect(originalDownloadName('photo.jpeg', 'jpeg')).toBe('photo.jpeg');
    expect(originalDownloadName('scan.dat', 'tiff')).toBe('scan.dat.tif');
    expect(originalDownloadName('from-card', 'raw', 'raf')).toBe('from-card.raf');
    expect(originalDownloadName('DSC_0042.NEF', 'raw', 'nef')).toBe('DSC_0042.NEF');
    expect(originalDownloadName('photo.jpg', 'raw', 'dng')).toBe('photo.jpg.dng');
  });
});
