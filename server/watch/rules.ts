import path from 'node:path';

/**
 * Names a watch folder never takes: hidden files and folders (".DS_Store", ".sync",
 * ".name.XXXXXX" that rsync writes before renaming), the temp files of browsers, editors,
 * copy tools and office suites, and the system's own clutter. Images are judged by content
 * once a file is taken; these rules only keep half-written and private files out.
 */
const TEMP_NAME = [
  /^~\$/, // Office lock files
  /~$/, // editor backups
  /\.(tmp|temp|part|partial|crdownload|download|opdownload|!ut|!qb|swp|swx|lock|lck)$/i,
  /^(thumbs\.db|desktop\.ini|icon\r)$/i,
];
const SYSTEM_FOLDER = /^(@eaDir|#recycle|#snapshot|\$RECYCLE\.BIN|System Volume Information|lost\+found)$/i;

/** True when a file or folder inside a watch folder must be left alone. `relative` is from the watch root. */
export function isIgnoredInWatchFolder(relative: string): boolean {
  if (relative === '' || relative === '.') return false;
  const segments = relative.split(/[\\/]+/).filter(Boolean);
  const name = segments[segments.length - 1] ?? '';
  if (segments.some((s) => s.startsWith('.'))) return true;
  if (segments.some((s) => SYSTEM_FOLDER.test(s))) return true;
  return TEMP_NAME.some((re) => re.test(name));
}

/**
 * statfs() magic numbers of network and user-space filesystems on Linux, where inotify sees only
 * changes made by this machine (a file copied onto an NFS share from another computer raises no
 * event here), so the folder has to be polled.
 */
const NETWORK_FS_TYPES: Record<number, string> = {
  0x6969: 'NFS',
  0x517b: 'SMB',
  0xff534d42: 'CIFS',
  0xfe534d42: 'SMB2',
  0x65735546: 'FUSE',
  0x01021997: '9P',
  0x786f4256: 'VirtualBox shared folder',
  0x5346414f: 'AFS',
  0x73757245: 'Coda',
  0x564c: 'NCP',
  0x00c36400: 'Ceph',
  0x0bd00bd0: 'Lustre',
  0x47504653: 'GPFS',
};

/** Why a folder must be polled rather than watched with OS events, or undefined when events work. */
export function pollingReason(folder: string, platform: NodeJS.Platform, fsType: number | undefined): string | undefined {
  if (platform === 'win32' && /^\\\\/.test(folder)) return 'network path';
  if (platform === 'linux' && fsType !== undefined) {
    // statfs reports the type as a signed or unsigned 32-bit number depending on the platform.
    const name = NETWORK_FS_TYPES[fsType >>> 0];
    if (name) return `${name} filesystem`;
  }
  return undefined;
}

/** Error codes that mean the OS ran out of event watchers: poll instead of giving up. */
export const OUT_OF_WATCHERS = new Set(['ENOSPC', 'EMFILE', 'ENFILE', 'ENOSYS', 'EPERM']);

/** The path of `file` relative to `root`, with forward slashes, for the ignore rules and display. */
export function relativeInFolder(root: string, file: string): string {
  return path.relative(root, file).split(path.sep).join('/');
}
