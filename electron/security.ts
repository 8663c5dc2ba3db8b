/**
 * The desktop window's security rules, as small pure functions (no Electron import) so the
 * test suite checks them under plain Node. window.ts and ipc.ts apply them. They follow
 * Electron's security checklist: the window shows only Darkroom's own local server, runs the
 * UI sandboxed without Node, and lets nothing leave the machine except links the user clicks,
 * which open in the default browser.
 */

/** webPreferences for every window: isolated, sandboxed, no Node, nothing experimental. */
export const SECURE_WEB_PREFERENCES = Object.freeze({
  contextIsolation: true,
  sandbox: true,
  nodeIntegration: false,
  nodeIntegrationInWorker: false,
  nodeIntegrationInSubFrames: false,
  webSecurity: true,
  allowRunningInsecureContent: false,
  webviewTag: false,
  experimentalFeatures: false,
  // A file dropped outside the drop zone must not replace the UI with the file itself.
  navigateOnDragDrop: false,
  safeDialogs: true,
  spellcheck: false,
});

/** The origin of a loopback URL the engine gave, or undefined for anything else. */
export function appOriginOf(url: string): string | undefined {
  const parsed = parse(url);
  if (!parsed || parsed.protocol !== 'http:') return undefined;
  if (parsed.hostname !== '127.0.0.1' && parsed.hostname !== '[::1]') return undefined;
  return parsed.origin;
}

/** The Content-Security-Policy the desktop adds to every answer of the app origin. */
export function contentSecurityPolicy(): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    // React and the charts set style attributes; no script can come from a style.
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "media-src 'self' blob:",
    "worker-src 'self' blob:",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "frame-src 'none'",
    "object-src 'none'",
  ].join('; ');
}

/** Response headers with the desktop's CSP added; a CSP the server sent stays too (both apply). */
export function withContentSecurityPolicy(headers: Record<string, string[]> | undefined): Record<string, string[]> {
  return { ...(headers ?? {}), 'Content-Security-Policy': [contentSecurityPolicy()] };
}

/** The window may navigate only within the app origin (the UI's own routes). */
export function isAllowedNavigation(url: string, appOrigin: string): boolean {
  return parse(url)?.origin === appOrigin;
}

/**
 * Requests the window's session may make: the app origin, and the browser's own internal
 * schemes. Everything else (the internet, other local servers, file://) is cancelled: the UI
 * works offline and has nothing to fetch from elsewhere.
 */
export function isAllowedRequest(url: string, appOrigin: string): boolean {
  const parsed = parse(url);
  if (!parsed) return false;
  if (['devtools:', 'data:', 'blob:'].includes(parsed.protocol)) return true;
  return parsed.origin === appOrigin;
}

const MAX_EXTERNAL_URL = 2048;

/**
 * Links that may be handed to the operating system (shell.openExternal): https web pages and
 * mailto, nothing else. Other schemes can start programs (file:, smb:, ms-msdt:, custom
 * handlers), and credentials in a URL are a phishing trick.
 */
export function isSafeExternalUrl(url: unknown): url is string {
  if (typeof url !== 'string' || url.length > MAX_EXTERNAL_URL) return false;
  const parsed = parse(url);
  if (!parsed) return false;
  if (parsed.protocol === 'mailto:') return /^mailto:[^\s]+$/.test(url);
  if (parsed.protocol !== 'https:') return false;
  return parsed.hostname !== '' && parsed.username === '' && parsed.password === '';
}

/**
 * Permissions the UI may have. Everything is denied (camera, microphone, location,
 * notifications from the page, MIDI, USB …) except writing to the clipboard (copying a link)
 * and going full screen, and only for the app origin.
 */
const ALLOWED_PERMISSIONS = new Set(['clipboard-sanitized-write', 'fullscreen']);
export function isPermissionAllowed(permission: string, requestingUrl: string | undefined, appOrigin: string): boolean {
  if (!ALLOWED_PERMISSIONS.has(permission)) return false;
  return requestingUrl !== undefined && parse(requestingUrl)?.origin === appOrigin;
}

/**
 * An IPC message is answered only when it comes from the app origin's main frame: not from an
 * iframe, not from a page the window was somehow navigated to.
 */
export function isTrustedSender(frame: { url: string; isMainFrame: boolean } | null | undefined, appOrigin: string): boolean {
  if (!frame || !frame.isMainFrame) return false;
  return parse(frame.url)?.origin === appOrigin;
}

function parse(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}
