import type { BrowserContext } from 'playwright-core';

export interface FakeBridgeOptions {
  /** The folder the test's files are in: a file's path is this folder and its name. */
  folder: string;
  /** Names of files that get no path, as for a file made in the page. */
  withoutPath?: string[];
  /** What `chooseFolder()` answers, one per call (then null, as when the dialog is cancelled). */
  chosenFolders?: string[];
}

/**
 * Gives the page what the desktop app's preload script gives it (`window.darkroomDesktop`, see
 * electron/bridge.ts), before any of the page's own code runs, so the web UI behaves as in the
 * desktop window. Paths are those of real files on disk, so an import really reads them.
 */
export async function installFakeDesktopBridge(context: BrowserContext, options: FakeBridgeOptions): Promise<void> {
  await context.addInitScript(
    ({ folder, withoutPath, chosenFolders }: Required<FakeBridgeOptions>) => {
      const chosen = [...chosenFolders];
      const calls: string[] = [];
      window.darkroomDesktop = Object.freeze({
        pathForFile(file: { name: string }) {
          calls.push(`pathForFile ${file.name}`);
          return withoutPath.includes(file.name) ? null : `${folder}/${file.name}`;
        },
        openDataFolder: async () => void calls.push('openDataFolder'),
        async chooseFolder() {
          calls.push('chooseFolder');
          return chosen.shift() ?? null;
        },
      });
      // What the page asked of the bridge, for the test to check.
      window.darkroomDesktopCalls = calls;
    },
    { folder: options.folder, withoutPath: options.withoutPath ?? [], chosenFolders: options.chosenFolders ?? [] },
  );
}
