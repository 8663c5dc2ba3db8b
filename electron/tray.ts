import { Menu, Tray } from 'electron';
import { trayIcon } from './icon.js';

export interface TrayActions {
  show(): void;
  importFiles(): void;
  openDataFolder(): void;
  quit(): void;
}

/**
 * The tray icon (menu bar on macOS, notification area on Windows and most Linux desktops):
 * its tooltip follows the queue. Some Linux desktops have no tray; the app works without it.
 */
export function createTray(actions: TrayActions): Tray | undefined {
  let tray: Tray;
  try {
    tray = new Tray(trayIcon());
  } catch {
    return undefined;
  }
  tray.setToolTip('Darkroom');
  tray.setContextMenu(
    Menu.buildFromTemplate([
      { label: 'Show Darkroom', click: actions.show },
      { label: 'Import Images…', click: actions.importFiles },
      { label: 'Open Data Folder', click: actions.openDataFolder },
      { type: 'separator' },
      { label: 'Quit Darkroom', click: actions.quit },
    ]),
  );
  tray.on('click', actions.show);
  return tray;
}
