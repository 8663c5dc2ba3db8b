import type { DarkroomDesktopBridge } from '../../../electron/bridge';

export type { DarkroomDesktopBridge };

/**
 * What the desktop app's preload script adds to the page (`window.darkroomDesktop`); undefined
 * in a browser. Read on every call rather than once, as the preload runs before the page and
 * nothing replaces it later, but a test page may define it at any point before use.
 */
export function desktopBridge(): DarkroomDesktopBridge | undefined {
  const bridge = window.darkroomDesktop;
  return bridge && typeof bridge.pathForFile === 'function' ? bridge : undefined;
}

export const isDesktop = () => desktopBridge() !== undefined;

/**
 * The paths on disk of files from a drop or a file picker, when all of them can be imported by
 * path: in the desktop app, and only if every file has a path (a file made in the page has
 * none). Otherwise undefined, and the whole set is uploaded, so one batch never goes two ways.
 */
export function localPathsOf(files: File[]): string[] | undefined {
  const bridge = desktopBridge();
  if (!bridge || files.length === 0) return undefined;
  const paths: string[] = [];
  for (const file of files) {
    let found: string | null = null;
    try {
      found = bridge.pathForFile(file);
    } catch {
      found = null;
    }
    // The server takes absolute paths only (POSIX, or a Windows drive or share).
    if (!found || !/^(\/|[A-Za-z]:[\\/]|\\\\)/.test(found)) return undefined;
    paths.push(found);
  }
  return paths;
}

/** Whether this page talks to a server on this machine (where watch folders can be changed). */
export function servedFromThisMachine(hostname = window.location.hostname): boolean {
  const host = hostname.replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
