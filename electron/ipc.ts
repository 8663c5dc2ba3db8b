import { ipcMain, shell, type BrowserWindow, type IpcMainInvokeEvent } from 'electron';
import { chooseWatchFolder } from './dialogs.js';
import { CHANNELS, IpcInputError, expectNoArgs, type Channel } from './ipc-contract.js';
import { isTrustedSender } from './security.js';

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

  handle(CHANNELS.chooseFolder, async (args) => {
    expectNoArgs(CHANNELS.chooseFolder, args);
    return (await chooseWatchFolder(deps.window())) ?? null;
  });
}
