/**
 * The desktop shell: one instance per user, starts the engine in a process of its own on a
 * random loopback port (data in the OS user-data folder), waits for it, and opens the web UI
 * logged in as the local admin. Adds only what a browser cannot do: file paths of dropped
 * files, a tray and dock badge with the queue's progress, a notification when a batch is done,
 * the data folder in the file manager, a menu with the usual shortcuts, the window where it was.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Menu, Notification, app, dialog, session, shell, type BrowserWindow, type Tray } from 'electron';
import { chooseImageFiles, chooseWatchFolder } from './dialogs.js';
import { startEngine, type Engine } from './engine.js';
import type { EngineMessage } from './engine-messages.js';
import { registerIpc } from './ipc.js';
import { createLocalApi, type LocalApi } from './local-api.js';
import { buildMenu } from './menu.js';
import { batchNotice, progressView } from './progress.js';
import { createTray } from './tray.js';
import { createMainWindow, lockDownContents, lockDownSession } from './window.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const ENGINE_ENTRY = path.join(here, '../server/desktop/engine-process.js');
const PRELOAD = path.join(here, 'preload.cjs');
const READY_TIMEOUT_MS = 30_000;
const isMac = process.platform === 'darwin';

// The same user-data folder in development and in the packaged app, set before anything
// (the single-instance lock included) uses it. --user-data-dir=DIR gives a separate one.
app.setName('Darkroom');
const userDataSwitch = process.argv.find((a) => a.startsWith('--user-data-dir='));
app.setPath('userData', userDataSwitch ? path.resolve(userDataSwitch.slice('--user-data-dir='.length)) : path.join(app.getPath('appData'), 'Darkroom'));

let engine: Engine | undefined;
let api: LocalApi | undefined;
let mainWindow: BrowserWindow | undefined;
let tray: Tray | undefined;
let quitting = false;

if (!app.requestSingleInstanceLock()) {
  // Another Darkroom is running for this user: it shows its window (second-instance), we leave.
  app.quit();
} else {
  app.enableSandbox();
  app.on('second-instance', () => showWindow());
  app.on('web-contents-created', (_event, contents) => lockDownContents(contents, () => engine?.origin));
  app.on('window-all-closed', () => {
    if (!isMac) app.quit();
  });
  app.on('activate', () => {
    if (engine && !mainWindow) openWindow(engine);
  });
  app.on('before-quit', (event) => {
    if (quitting || !engine) return;
    // Stop the engine first: it finishes or safely abandons in-flight work, then we quit.
    event.preventDefault();
    quitting = true;
    void engine.stop().finally(() => app.quit());
  });
  void app.whenReady().then(start);
}

async function start() {
  const defaultDataDir = path.join(app.getPath('userData'), 'data');
  // The menu's actions wait for the engine; the standard items work from the start.
  Menu.setApplicationMenu(buildMenu({ importFiles, addWatchFolder, openDataFolder }, isMac));
  app.setAboutPanelOptions({ applicationName: 'Darkroom', applicationVersion: app.getVersion() });
  for (;;) {
    try {
      engine = await startEngine({
        entry: ENGINE_ENTRY,
        // The script path and Chromium's switches are among them; the engine picks out its own options.
        args: process.argv.slice(1),
        defaultDataDir,
        nodePath: app.isPackaged ? undefined : process.env.DARKROOM_NODE || undefined,
        timeoutMs: READY_TIMEOUT_MS,
        onMessage: onEngineMessage,
        onUnexpectedExit: (code) => void engineDied(code),
      });
      break;
    } catch (err) {
      const hint = app.isPackaged ? '' : '\n\nDuring development, start the app with `npm start`.';
      const { response } = await dialog.showMessageBox({
        type: 'error',
        title: 'Darkroom could not start',
        message: 'Darkroom could not start its engine.',
        detail: `${(err as Error).message}${hint}`,
        buttons: ['Quit', 'Try Again', 'Open Data Folder'],
        defaultId: 1,
        cancelId: 0,
        noLink: true,
      });
      if (response === 1) continue;
      if (response === 2) await shell.openPath(defaultDataDir);
      app.exit(1);
      return;
    }
  }

  const running = engine;
  lockDownSession(session.defaultSession, running.origin);
  registerIpc({ appOrigin: running.origin, dataDir: running.dataDir, window: () => mainWindow });
  api = createLocalApi(running.url, running.key);
  tray = createTray({ show: showWindow, importFiles, openDataFolder, quit: () => app.quit() });
  openWindow(running);
}

function openWindow(running: Engine) {
  mainWindow = createMainWindow({
    // The key rides in the fragment: the page reads it, browsers never send fragments to the server.
    loginUrl: `${running.url}/#key=${encodeURIComponent(running.key)}`,
    preload: PRELOAD,
    stateFile: path.join(app.getPath('userData'), 'window-state.json'),
  });
  mainWindow.on('closed', () => (mainWindow = undefined));
}

function showWindow() {
  if (!mainWindow) {
    if (engine) openWindow(engine);
    return;
  }
  if (mainWindow.isMinimized()) mainWindow.restore();
  mainWindow.show();
  mainWindow.focus();
}

function onEngineMessage(message: EngineMessage) {
  if (message.type === 'progress') {
    const view = progressView(message);
    app.setBadgeCount(view.badgeCount);
    mainWindow?.setProgressBar(view.fraction);
    tray?.setToolTip(view.tooltip);
  } else if (message.type === 'batch-finished') {
    const notice = batchNotice(message);
    // The window shows the result itself; a notification is for when the user is elsewhere.
    if (!notice || mainWindow?.isFocused() || !Notification.isSupported()) return;
    const notification = new Notification({ title: notice.title, body: notice.body });
    notification.on('click', showWindow);
    notification.show();
  }
}

async function engineDied(code: number | null) {
  if (quitting) return;
  const { response } = await dialog.showMessageBox({
    type: 'error',
    title: 'Darkroom stopped',
    message: 'The Darkroom engine stopped unexpectedly.',
    detail: `Exit code ${code}. Images being processed are picked up again when Darkroom restarts.`,
    buttons: ['Restart Darkroom', 'Quit'],
    defaultId: 0,
    noLink: true,
  });
  quitting = true;
  if (response === 0) app.relaunch();
  app.exit(0);
}

/**
 * Menu and tray "Import Images…": one request per file, like the UI's imports, so one file the
 * server refuses does not take the others with it; what was refused is shown once at the end.
 */
async function importFiles() {
  if (!api) return;
  const refused: string[] = [];
  for (const file of await chooseImageFiles(mainWindow)) {
    await api.importFiles([file]).catch((err: Error) => refused.push(`${path.basename(file)}: ${err.message}`));
  }
  if (!refused.length) return;
  await dialog.showMessageBox({
    type: 'warning',
    title: 'Import',
    message: refused.length === 1 ? 'One image could not be imported.' : `${refused.length} images could not be imported.`,
    detail: refused.slice(0, 20).join('\n') + (refused.length > 20 ? `\n… and ${refused.length - 20} more` : ''),
  });
}

async function addWatchFolder() {
  if (!api) return;
  const folder = await chooseWatchFolder(mainWindow);
  if (!folder) return;
  try {
    await api.addWatchFolder(folder);
  } catch (err) {
    await dialog.showMessageBox({ type: 'warning', title: 'Watch folder', message: 'This folder cannot be watched.', detail: (err as Error).message });
  }
}

function openDataFolder() {
  if (engine) void shell.openPath(engine.dataDir);
}
