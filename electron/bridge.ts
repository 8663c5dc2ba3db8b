/**
 * What the preload script gives the web UI as `window.darkroomDesktop` (absent in a browser).
 * The UI uses it to import dropped files by path instead of uploading their bytes:
 *
 *   const paths = files.map((f) => window.darkroomDesktop?.pathForFile(f)).filter(Boolean)
 *   if (window.darkroomDesktop && paths.length === files.length)
 *     POST /v1/image/import {"paths": paths}     // the desktop is on loopback with an admin key
 *   else
 *     upload as usual
 */
export interface DarkroomDesktopBridge {
  /** Bridge version, raised when something changes. */
  readonly version: 1;
  /** The file's path on disk for a File from a drop or a file input; null for files made in the page. */
  pathForFile(file: File): string | null;
  /** Opens Darkroom's data folder in the file manager. */
  openDataFolder(): Promise<void>;
  /** Opens an https or mailto link in the default browser; false when refused. */
  openExternal(url: string): Promise<boolean>;
  /** Asks for a folder with the system dialog (to add a watch folder); null when cancelled. */
  chooseFolder(): Promise<string | null>;
}

declare global {
  interface Window {
    darkroomDesktop?: DarkroomDesktopBridge;
  }
}
