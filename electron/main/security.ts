// The security decisions of the shell as pure functions (no Electron import), so each is unit
// tested: where our renderer lives, which IPC senders are ours, the Content Security Policy, which
// external links may open, and how an app:// request maps to a file of dist/renderer.
import { dashboardCsp } from '../../shared/csp';
import { mimeType } from '../provider/util/mime';
import { extname, isAbsolute, relative, resolve } from 'node:path';

/**
 * The renderer is served from dist/renderer through a privileged custom scheme rather than
 * file://: with the GrantFileProtocolExtraPrivileges fuse off, file:// pages cannot load ES module
 * scripts or fetch, and webRequest header rewriting is unreliable for file://. A standard, secure
 * scheme gives the page a real origin and lets the shell send the CSP as a response header.
 */
export const APP_SCHEME = 'app';
export const APP_HOST = 'idlerig';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_INDEX_URL = `${APP_ORIGIN}/index.html`;

/** Where our pages come from: the packaged renderer, or the electron-vite dev server in development. */
export type RendererLocation =
  { kind: 'app'; origin: string } | { kind: 'dev-server'; origin: string };

/**
 * The renderer location. The dev server URL (ELECTRON_RENDERER_URL, set by `electron-vite dev`) is
 * honoured only in an unpackaged app: a packaged app never loads pages named by the environment.
 */
export function rendererLocation(opts: {
  isPackaged: boolean;
  devServerUrl: string | undefined;
}): RendererLocation {
  if (!opts.isPackaged && opts.devServerUrl) {
    const url = safeUrl(opts.devServerUrl);
    if (url && (url.protocol === 'http:' || url.protocol === 'https:') && isLoopback(url.hostname))
      return { kind: 'dev-server', origin: url.origin };
  }
  return { kind: 'app', origin: APP_ORIGIN };
}

/** The first page to load. */
export function rendererStartUrl(location: RendererLocation): string {
  return location.kind === 'app' ? APP_INDEX_URL : `${location.origin}/`;
}

/** Whether a URL is one of our pages (any path: the dashboard may route with the history API). */
export function isRendererUrl(rawUrl: string, location: RendererLocation): boolean {
  const url = safeUrl(rawUrl);
  if (!url || url.username || url.password) return false;
  if (location.kind === 'app') {
    // Custom schemes report an opaque origin ("null") in WHATWG URL: compare the parts.
    return url.protocol === `${APP_SCHEME}:` && url.host === APP_HOST;
  }
  return url.origin === location.origin;
}

/** What the IPC layer knows about the frame that sent a call. */
export interface SenderInfo {
  /** The sending frame's URL; null when the frame is gone (navigated away or destroyed). */
  frameUrl: string | null;
  /** The frame is the top frame of its page, not an iframe. */
  isMainFrame: boolean;
  /** The page is the one in our window (event.sender is our window's webContents). */
  isOurWindow: boolean;
}

export type SenderVerdict = { ok: true } | { ok: false; reason: string };

/** An IPC call is served only for the main frame of our window showing one of our pages. */
export function checkSender(sender: SenderInfo, location: RendererLocation): SenderVerdict {
  if (!sender.isOurWindow) return { ok: false, reason: 'the call did not come from our window' };
  if (sender.frameUrl === null) return { ok: false, reason: 'the sending frame is gone' };
  if (!sender.isMainFrame) return { ok: false, reason: 'the call came from a subframe' };
  if (!isRendererUrl(sender.frameUrl, location))
    return { ok: false, reason: `the sending page is not ours (${describeUrl(sender.frameUrl)})` };
  return { ok: true };
}

/** Hosts whose https pages a link in the dashboard may open in the user's browser. */
export const EXTERNAL_LINK_ALLOWLIST: readonly { host: string; pathPrefix?: string }[] = [
  { host: 'idlerig.io' },
  { host: 'docs.idlerig.io' },
  { host: 'github.com', pathPrefix: '/idlerig/' },
];

/** https only, no credentials, default port, and a host (and path) on the allow-list. */
export function isAllowedExternalUrl(
  rawUrl: string,
  allowlist: readonly { host: string; pathPrefix?: string }[] = EXTERNAL_LINK_ALLOWLIST,
): boolean {
  const url = safeUrl(rawUrl);
  if (!url || url.protocol !== 'https:' || url.username || url.password || url.port) return false;
  return allowlist.some(
    (entry) =>
      url.hostname === entry.host &&
      (entry.pathPrefix === undefined || url.pathname.startsWith(entry.pathPrefix)),
  );
}

/**
 * The page's Content Security Policy. MUI (emotion) injects <style> tags, hence style-src
 * 'unsafe-inline'; scripts only from our origin. The dev server needs its inline React refresh
 * preamble and its HMR WebSocket, so development relaxes exactly those two.
 */
export function contentSecurityPolicy(location: RendererLocation): string {
  return location.kind === 'dev-server'
    ? dashboardCsp({ wsOrigin: location.origin.replace(/^http/, 'ws') })
    : dashboardCsp();
}

export type AppRequest =
  | { ok: true; file: string; mimeType: string; isDocument: boolean }
  | { ok: false; status: 400 | 403 | 404 };

/**
 * Maps an app:// URL to a file under the renderer folder. Paths that leave the folder are refused;
 * an extension-less path is a dashboard route and gets index.html.
 */
export function resolveAppRequest(rawUrl: string, rendererDir: string): AppRequest {
  const url = safeUrl(rawUrl);
  if (!url || url.protocol !== `${APP_SCHEME}:` || url.host !== APP_HOST)
    return { ok: false, status: 404 };
  let pathname: string;
  try {
    pathname = decodeURIComponent(url.pathname);
  } catch {
    return { ok: false, status: 400 };
  }
  if (pathname.includes('\0')) return { ok: false, status: 400 };
  const route = pathname === '/' || extname(pathname) === '';
  const relativePath = route ? 'index.html' : pathname.replace(/^\/+/, '');
  const root = resolve(rendererDir);
  const file = resolve(root, relativePath);
  const rel = relative(root, file);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return { ok: false, status: 403 };
  const ext = extname(file).toLowerCase();
  return {
    ok: true,
    file,
    mimeType: mimeType(file),
    isDocument: ext === '.html',
  };
}

function safeUrl(raw: string): URL | null {
  try {
    return new URL(raw);
  } catch {
    return null;
  }
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '127.0.0.1' || hostname === '[::1]';
}

function describeUrl(raw: string): string {
  const url = safeUrl(raw);
  if (!url) return 'an invalid URL';
  return url.protocol === 'file:' ? 'a file:// page' : `${url.protocol}//${url.host}`;
}
