// The dashboard window and the hardening of every page: sandboxed renderer, the app:// scheme
// that serves dist/renderer with a strict CSP, no navigation, no new windows (allow-listed https
// links open in the user's browser), every permission denied.
import { readFile } from 'node:fs/promises';
import {
  BrowserWindow,
  nativeTheme,
  protocol,
  shell,
  type Session,
  type WebContents,
} from 'electron';
import type { ScopedLogger } from '../provider/logs/logger';
import {
  APP_SCHEME,
  contentSecurityPolicy,
  isAllowedExternalUrl,
  isRendererUrl,
  rendererStartUrl,
  resolveAppRequest,
  type RendererLocation,
} from './security';

/**
 * Must run before the app is ready: app:// is a standard, secure scheme (a real origin, so
 * 'self' in the CSP, ES modules and fetch work) that may use fetch and the code cache.
 */
export function registerAppScheme(): void {
  protocol.registerSchemesAsPrivileged([
    {
      scheme: APP_SCHEME,
      privileges: { standard: true, secure: true, supportFetchAPI: true, codeCache: true },
    },
  ]);
}

/** Serves dist/renderer on app://idlerig/, the CSP sent as a response header with every page. */
export function serveRenderer(
  ses: Session,
  rendererDir: string,
  location: RendererLocation,
  log: ScopedLogger,
): void {
  const csp = contentSecurityPolicy(location);
  ses.protocol.handle(APP_SCHEME, async (request) => {
    if (request.method !== 'GET' && request.method !== 'HEAD')
      return new Response(null, { status: 405 });
    const target = resolveAppRequest(request.url, rendererDir);
    if (!target.ok) return new Response(null, { status: target.status });
    let body: Buffer;
    try {
      body = await readFile(target.file);
    } catch {
      if (target.isDocument) log.error('the dashboard is not built', { file: target.file });
      return new Response(null, { status: 404 });
    }
    const headers: Record<string, string> = {
      'Content-Type': target.mimeType,
      'X-Content-Type-Options': 'nosniff',
      'Cache-Control': target.isDocument ? 'no-cache' : 'max-age=31536000, immutable',
    };
    if (target.isDocument) headers['Content-Security-Policy'] = csp;
    return new Response(request.method === 'HEAD' ? null : new Uint8Array(body), {
      status: 200,
      headers,
    });
  });
}

/** Session-wide rules: no permission is ever granted; our pages always carry the CSP header. */
export function hardenSession(ses: Session, location: RendererLocation): void {
  ses.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  const csp = contentSecurityPolicy(location);
  ses.webRequest.onHeadersReceived((details, callback) => {
    if (!isRendererUrl(details.url, location)) {
      callback({});
      return;
    }
    const responseHeaders: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(details.responseHeaders ?? {})) {
      if (name.toLowerCase() !== 'content-security-policy') responseHeaders[name] = value;
    }
    responseHeaders['Content-Security-Policy'] = [csp];
    callback({ responseHeaders });
  });
}

/**
 * Rules for every web contents the app ever creates: no navigation away from the loaded page,
 * no new windows, no <webview>. Allow-listed https links go to the user's browser.
 */
export function hardenContents(contents: WebContents, log: ScopedLogger): void {
  const openOutside = (url: string): void => {
    if (isAllowedExternalUrl(url)) {
      shell.openExternal(url).catch((err: unknown) => {
        log.warn('could not open a link', { url, error: String(err) });
      });
    } else {
      log.warn('blocked a link', { url: url.slice(0, 200) });
    }
  };
  contents.setWindowOpenHandler(({ url }) => {
    openOutside(url);
    return { action: 'deny' };
  });
  contents.on('will-navigate', (event) => {
    event.preventDefault();
    openOutside(event.url);
  });
  contents.on('will-redirect', (event) => {
    event.preventDefault();
    log.warn('blocked a redirect', { url: event.url.slice(0, 200) });
  });
  contents.on('will-attach-webview', (event) => {
    event.preventDefault();
    log.warn('blocked a <webview>');
  });
}

export interface MainWindowOptions {
  location: RendererLocation;
  preload: string;
  /** Window icon (Linux, Windows); the packaged app's own icon is used on macOS. */
  icon?: string;
  /** Do not show the window when it is ready (started hidden at login). */
  startHidden: boolean;
  devTools: boolean;
  log: ScopedLogger;
}

export function createMainWindow(opts: MainWindowOptions): BrowserWindow {
  const window = new BrowserWindow({
    width: 1120,
    height: 760,
    minWidth: 720,
    minHeight: 520,
    show: false,
    title: 'Idlerig',
    ...(opts.icon ? { icon: opts.icon } : {}),
    backgroundColor: nativeTheme.shouldUseDarkColors ? '#121212' : '#ffffff',
    autoHideMenuBar: true,
    webPreferences: {
      preload: opts.preload,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      navigateOnDragDrop: false,
      spellcheck: false,
      devTools: opts.devTools,
    },
  });
  window.once('ready-to-show', () => {
    if (!opts.startHidden) window.show();
  });
  window.webContents.on('render-process-gone', (_event, details) => {
    opts.log.error('the dashboard page crashed; reloading', { reason: details.reason });
    if (details.reason !== 'clean-exit' && !window.isDestroyed()) {
      setTimeout(() => {
        if (!window.isDestroyed()) void window.loadURL(rendererStartUrl(opts.location));
      }, 1000);
    }
  });
  window.webContents.on('did-fail-load', (_event, code, description, url, isMainFrame) => {
    if (isMainFrame) opts.log.error('the dashboard did not load', { code, description, url });
  });
  window.loadURL(rendererStartUrl(opts.location)).catch((err: unknown) => {
    opts.log.error('the dashboard did not load', { error: String(err) });
  });
  return window;
}

/** Brings the window to the front (second launch, tray, dock). */
export function showWindow(window: BrowserWindow | null): void {
  if (!window || window.isDestroyed()) return;
  if (window.isMinimized()) window.restore();
  window.show();
  window.focus();
}
