/**
 * The bridge between the web UI and the desktop shell, exposed as `window.darkroomDesktop`
 * (see bridge.ts). Kept tiny: the UI gets file paths of dropped files and two requests to
 * the main process, nothing of Node or Electron. A sandboxed preload cannot load local
 * modules, so the channel names are repeated here (ipc-contract.ts has the same list).
 */
import { contextBridge, ipcRenderer, webUtils } from 'electron';
import type { DarkroomDesktopBridge } from './bridge.js';

const bridge: DarkroomDesktopBridge = {
  pathForFile(file: File): string | null {
    try {
      return webUtils.getPathForFile(file) || null;
    } catch {
      return null; // not a File, or one made in the page
    }
  },
  openDataFolder: () => ipcRenderer.invoke('darkroom:open-data-folder'),
  chooseFolder: () => ipcRenderer.invoke('darkroom:choose-folder'),
};

contextBridge.exposeInMainWorld('darkroomDesktop', bridge);
