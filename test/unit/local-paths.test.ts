import { describe, expect, it } from 'vitest';
import { isLoopbackAddress } from '../../server/http/middleware/loopback.js';
import { sniffFormat } from '../../server/media/sniff.js';
import { isIgnoredInWatchFolder, pollingReason } from '../../server/watch/rules.js';

describe('isLoopbackAddress', () => {
  it('accepts only this machine: 127.0.0.0/8, ::1 and their mapped forms', () => {
    for (const address of ['127.0.0.1', '127.8.9.10', '::1', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1', '::FFFF:127.0.0.2']) {
      expect(isLoopbackAddress(address), address).toBe(true);
    }
    for (const address of [undefined, '', '192.168.1.20', '10.0.0.1', '0.0.0.0', '::', '::ffff:192.168.1.2', 'fe80::1%eth0', '128.0.0.1', 'localhost', '127.0.0.1.example.com']) {
      expect(isLoopbackAddress(address), String(address)).toBe(false);
    }
  });
});

describe('isIgnoredInWatchFolder', () => {
  it('skips hidden files and folders, temp files and system clutter', () => {
    for (const name of [
      '.DS_Store',
      '.photo.jpg',
      '.sync/photo.jpg',
      'album/.cache/x.png',
      'photo.jpg.part',
      'photo.jpg.crdownload',
      'photo.JPG.TMP',
      'photo.jpg.download',
      '~$report.docx',
      'photo.jpg~',
      'Thumbs.db',
      'desktop.ini',
      '@eaDir/photo.jpg/SYNOPHOTO_THUMB_M.jpg',
      '$RECYCLE.BIN/photo.jpg',
      'lost+found/x.jpg',
    ]) {
      expect(isIgnoredInWatchFolder(name), name).toBe(true);
    }
  });

  it('takes ordinary files and folders, whatever their extension (content decides later)', () => {
    for (const name of ['photo.jpg', '2024/june/IMG_0001.HEIC', 'scan.tiff', 'notes.txt', 'a.part.jpg', 'tmp/photo.png', '']) {
      expect(isIgnoredInWatchFolder(name), name).toBe(false);
    }
  });
});

describe('pollingReason', () => {
  it('polls network and user-space filesystems on Linux, whatever sign statfs gives the type', () => {
    expect(pollingReason('/mnt/nas', 'linux', 0x6969)).toBe('NFS filesystem');
    expect(pollingReason('/mnt/share', 'linux', 0xff534d42 | 0)).toBe('CIFS filesystem');
    expect(pollingReason('/mnt/share', 'linux', 0xfe534d42)).toBe('SMB2 filesystem');
    expect(pollingReason('/home/me/sshfs', 'linux', 0x65735546)).toBe('FUSE filesystem');
    expect(pollingReason('/home/me/Pictures', 'linux', 0xef53)).toBeUndefined(); // ext4
    expect(pollingReason('/home/me/Pictures', 'linux', undefined)).toBeUndefined();
  });

  it('polls UNC paths on Windows', () => {
    expect(pollingReason('\\\\nas\\photos', 'win32', 0)).toBe('network path');
    expect(pollingReason('C:\\Users\\me\\Pictures', 'win32', 0)).toBeUndefined();
  });
});

describe('sniffFormat on TIFF signatures', () => {
  const head = (signature: number[]) => {
    const bytes = Buffer.alloc(4100);
    Buffer.from(signature).copy(bytes);
    bytes.writeUInt32LE(50_000_000, 4); // the first directory, far past the head
    return bytes;
  };

  it('recognises little- and big-endian TIFF and BigTIFF by their signature alone', async () => {
    expect(await sniffFormat(head([0x49, 0x49, 0x2a, 0x00]))).toBe('tiff');
    expect(await sniffFormat(head([0x4d, 0x4d, 0x00, 0x2a]))).toBe('tiff');
    expect(await sniffFormat(head([0x49, 0x49, 0x2b, 0x00]))).toBe('tiff');
    expect(await sniffFormat(head([0x49, 0x49, 0x2a, 0x01]))).toBeUndefined();
    expect(await sniffFormat(head([0x49, 0x4d, 0x2a, 0x00]))).toBeUndefined();
    expect(await sniffFormat(head([0x4d, 0x4d, 0x2a, 0x00]))).toBeUndefined();
  });
});
