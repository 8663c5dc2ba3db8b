import { dialog, type BrowserWindow, type OpenDialogOptions } from 'electron';
import { IMAGE_FILE_EXTENSIONS } from './bridge.js';

/** The system's open dialog, attached to the window when there is one (a sheet on macOS). */
async function showOpen(window: BrowserWindow | undefined, options: OpenDialogOptions): Promise<string[]> {
  const result = window ? await dialog.showOpenDialog(window, options) : await dialog.showOpenDialog(options);
  return result.canceled ? [] : result.filePaths;
}

/** Asks for a folder to watch (the menu, and the status page through the bridge); undefined when cancelled. */
export async function chooseWatchFolder(window: BrowserWindow | undefined): Promise<string | undefined> {
  const [folder] = await showOpen(window, { title: 'Choose a folder to watch', properties: ['openDirectory', 'createDirectory'] });
  return folder;
}

/** Asks for image files to import; none when cancelled. */
export function chooseImageFiles(window: BrowserWindow | undefined): Promise<string[]> {
  return showOpen(window, {
    title: 'Import images',
    properties: ['openFile', 'multiSelections'],
    filters: [
      { name: 'Images', extensions: [...IMAGE_FILE_EXTENSIONS] },
      { name: 'All Files', extensions: ['*'] },
    ],
  });
}
