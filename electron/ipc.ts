import { dialog, ipcMain, shell, type BrowserWindow, type IpcMainInvokeEvent } from 'electron';
import { CHANNELS, IpcInputError, expectNoArgs, parseOpenExternalArgs, type Channel } from './ipc-contract.js';
import { isTrustedSender } from './security.js';
import { openExternally } from './window.js';

export interface IpcDeps {
  appOrigin: string;
  dataDir: string;
  window: () => BrowserWindow | undefined;
}

/**
 * Answers the preload bridge. Each handler first checks who is asking (the app origin's main
 * frame only) and what was sent (ipc-contract.ts); anything else is refused with an error the
 * page sees, and nothing happens.
 */
export function registerIpc(deps: IpcDeps): void {
  const handle = <T>(channel: Channel, handler: (args: unknown[]) => Promise<T> | T) => {
    ipcMain.handle(channel, (event: IpcMainInvokeEvent, ...args: unknown[]) => {
      const frame = event.senderFrame;
      if (!isTrustedSender(frame ? { url: frame.url, isMainFrame: frame.parent === null } : null, deps.appOrigin)) {
        throw new IpcInputError(`${channel}: refused, the request does not come from the Darkroom window`);
      }
      return handler(args);
    });
  };

  handle(CHANNELS.openDataFolder, async (args) => {
    expectNoArgs(CHANNELS.openDataFolder, args);
    const problem = await shell.openPath(deps.dataDir);
    if (problem) throw new Error(problem);
  });

  handle(CHANNELS.openExternal, (args) => openExternally(parseOpenExternalArgs(args)));

  handle(CHANNELS.chooseFolder, async (args) => {
    expectNoArgs(CHANNELS.chooseFolder, args);
    const window = deps.window();
    const options = { title: 'Choose a folder to watch', properties: ['openDirectory', 'createDirectory'] as Array<'openDirectory' | 'createDirectory'> };
    const result = window ? await dialog.showOpenDialog(window, options) : await dialog.showOpenDialog(options);
    return result.canceled ? null : (result.filePaths[0] ?? null);
  });
}
