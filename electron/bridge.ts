/**
 * What the preload script gives the web UI as `window.darkroomDesktop` (absent in a browser).
 * The UI uses it to import dropped and picked files by path instead of uploading their bytes:
 * when every file of a set has a path, each is sent on its own as
 * POST /v1/image/import {"paths": [path]} (the desktop is on loopback with an admin key);
 * otherwise the set is uploaded as usual. Links leave the app through the window's own
 * navigation handlers (window.ts), not through this bridge.
 */
/**
 * The file extensions taken as images: by the shell's Import dialog and by the web UI's drop
 * zone for files inside dropped folders (one list for both, shared like the bridge's type).
 */
export const IMAGE_FILE_EXTENSIONS = ['jpg', 'jpeg', 'jfif', 'png', 'apng', 'webp', 'gif', 'tif', 'tiff', 'avif', 'heic', 'heif', 'svg'] as const;

export interface DarkroomDesktopBridge {
  /** The file's path on disk for a File from a drop or a file input; null for files made in the page. */
  pathForFile(file: File): string | null;
  /** Opens Darkroom's data folder in the file manager. */
  openDataFolder(): Promise<void>;
  /** Asks for a folder with the system dialog (to add a watch folder); null when cancelled. */
  chooseFolder(): Promise<string | null>;
}

declare global {
  interface Window {
    darkroomDesktop?: DarkroomDesktopBridge;
  }
}
