import { Menu, type MenuItemConstructorOptions } from 'electron';

export interface MenuActions {
  importFiles(): void;
  addWatchFolder(): void;
  openDataFolder(): void;
}

/** The application menu: the platform's standard items and shortcuts, plus Darkroom's own few. */
export function buildMenu(actions: MenuActions, isMac: boolean): Menu {
  const file: MenuItemConstructorOptions = {
    label: 'File',
    submenu: [
      { label: 'Import Images…', accelerator: 'CmdOrCtrl+O', click: actions.importFiles },
      { label: 'Add Watch Folder…', accelerator: 'CmdOrCtrl+Shift+O', click: actions.addWatchFolder },
      { type: 'separator' },
      { label: 'Open Data Folder', click: actions.openDataFolder },
      { type: 'separator' },
      isMac ? { role: 'close' } : { role: 'quit' },
    ],
  };
  const template: MenuItemConstructorOptions[] = [
    ...(isMac ? [{ role: 'appMenu' } as MenuItemConstructorOptions] : []),
    file,
    { role: 'editMenu' },
    { role: 'viewMenu' },
    { role: 'windowMenu' },
    { role: 'help', submenu: [{ role: 'about' }] },
  ];
  return Menu.buildFromTemplate(template);
}
