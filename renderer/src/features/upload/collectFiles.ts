import { IMAGE_FILE_EXTENSIONS } from '../../../../electron/bridge';

/**
 * The files of a drop or a picker, folders included (walked recursively). Inside folders only
 * files that look like images are taken, and hidden files (.DS_Store, Thumbs.db) never; files
 * chosen one by one are all sent, since the server judges content, not names.
 */
export interface PickedFile {
  file: File;
  path: string;
}

export interface Collected {
  files: PickedFile[];
  /** Files inside dropped folders that were left out because they are not images. */
  skipped: number;
}

const IMAGE_EXTENSIONS = new RegExp(`\\.(${IMAGE_FILE_EXTENSIONS.join('|')})$`, 'i');
const HIDDEN = /(^|\/)(\.|Thumbs\.db$|desktop\.ini$)/i;

export const looksLikeImage = (file: File) => file.type.startsWith('image/') || IMAGE_EXTENSIONS.test(file.name);

export async function collectFromDataTransfer(data: DataTransfer): Promise<Collected> {
  const entries = Array.from(data.items ?? [])
    .filter((item) => item.kind === 'file')
    .map((item) => (typeof item.webkitGetAsEntry === 'function' ? item.webkitGetAsEntry() : null));
  // Without entries (some browsers, synthetic drops) the plain file list is all there is.
  if (entries.length === 0 || entries.some((e) => e === null)) {
    return { files: Array.from(data.files).map((file) => ({ file, path: file.name })), skipped: 0 };
  }
  const out: Collected = { files: [], skipped: 0 };
  for (const entry of entries) await walk(entry!, '', out, false);
  return out;
}

/** `<input type=file webkitdirectory>` gives files with their relative path. */
export function collectFromInput(list: FileList, fromFolder: boolean): Collected {
  const out: Collected = { files: [], skipped: 0 };
  for (const file of Array.from(list)) {
    const path = file.webkitRelativePath || file.name;
    if (fromFolder && (HIDDEN.test(path) || !looksLikeImage(file))) {
      out.skipped++;
      continue;
    }
    out.files.push({ file, path });
  }
  return out;
}

async function walk(entry: FileSystemEntry, prefix: string, out: Collected, insideFolder: boolean): Promise<void> {
  const path = prefix ? `${prefix}/${entry.name}` : entry.name;
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    if (insideFolder && (HIDDEN.test(entry.name) || !looksLikeImage(file))) {
      out.skipped++;
      return;
    }
    out.files.push({ file, path });
    return;
  }
  if (!entry.isDirectory || HIDDEN.test(entry.name)) return;
  const reader = (entry as FileSystemDirectoryEntry).createReader();
  // readEntries answers in batches (100 in Chromium) until it answers with none.
  for (;;) {
    const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    for (const child of batch) await walk(child, path, out, true);
  }
}
