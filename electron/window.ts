import { BrowserWindow, screen, shell, type Session, type WebContents } from 'electron';
import {
  SECURE_WEB_PREFERENCES,
  isAllowedNavigation,
  isAllowedRequest,
  isPermissionAllowed,
  isSafeExternalUrl,
  withContentSecurityPolicy,
} from './security.js';
import { MIN_SIZE, placeWindow, readWindowState, writeWindowState, type WindowState } from './window-state.js';

/**
 * The session of the app window: every permission denied but the harmless two, every request
 * outside the app origin cancelled, and the desktop's CSP on every answer of the app origin.
 */
export function lockDownSession(session: Session, appOrigin: string): void {
  session.setPermissionRequestHandler((_contents, permission, callback, details) => {
    callback(isPermissionAllowed(permission, details.requestingUrl, appOrigin));
  });
  session.setPermissionCheckHandler((_contents, permission, requestingOrigin) => isPermissionAllowed(permission, requestingOrigin, appOrigin));
  session.setDevicePermissionHandler(() => false);
  session.webRequest.onBeforeRequest((details, callback) => callback({ cancel: !isAllowedRequest(details.url, appOrigin) }));
  session.webRequest.onHeadersReceived((details, callback) => {
    if (!isAllowedNavigation(details.url, appOrigin)) return callback({});
    callback({ responseHeaders: withContentSecurityPolicy(details.responseHeaders) });
  });
}

/** Opens a link in the default browser if it is one that may leave the app; otherwise drops it. */
function openExternally(url: string): boolean {
  if (!isSafeExternalUrl(url)) return false;
  void shell.openExternal(url);
  return true;
}

/**
 * Every web contents the app creates stays on the app origin: navigation elsewhere, new
 * windows and <webview> are refused; a safe external link opens in the default browser.
 */
export function lockDownContents(contents: WebContents, appOrigin: () => string | undefined): void {
  const guard = (event: { preventDefault(): void }, url: string) => {
    const origin = appOrigin();
    if (origin && isAllowedNavigation(url, origin)) return;
    event.preventDefault();
    openExternally(url);
  };
  contents.on('will-navigate', guard);
  contents.on('will-redirect', guard);
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    openExternally(url);
    return { action: 'deny' };
  });
}

export interface MainWindowOptions {
  /** Where the UI is, with the session key in the fragment (never sent to the server, never logged). */
  loginUrl: string;
  preload: string;
  stateFile: string;
}

/** The main window, where it was last time, shown once its first paint is ready. */
export function createMainWindow(options: MainWindowOptions): BrowserWindow {
  const state = placeWindow(readWindowState(options.stateFile), screen.getAllDisplays().map((d) => d.workArea));
  const window = new BrowserWindow({
    ...state.bounds,
    minWidth: MIN_SIZE.width,
    minHeight: MIN_SIZE.height,
    show: false,
    title: 'Darkroom',
    backgroundColor: '#17181c',
    webPreferences: { ...SECURE_WEB_PREFERENCES, preload: options.preload },
  });
  if (state.maximized) window.maximize();
  window.once('ready-to-show', () => window.show());
  rememberState(window, options.stateFile);
  void window.loadURL(options.loginUrl);
  return window;
}

function rememberState(window: BrowserWindow, file: string) {
  let timer: NodeJS.Timeout | undefined;
  const save = () => {
    if (window.isDestroyed()) return;
    const state: WindowState = { bounds: window.getNormalBounds(), maximized: window.isMaximized() };
    try {
      writeWindowState(file, state);
    } catch {
      // Losing the window position is not worth bothering the user about.
    }
  };
  const later = () => {
    clearTimeout(timer);
    timer = setTimeout(save, 500);
  };
  window.on('resize', later);
  window.on('move', later);
  window.on('maximize', later);
  window.on('unmaximize', later);
  window.on('close', () => {
    clearTimeout(timer);
    save();
  });
}
