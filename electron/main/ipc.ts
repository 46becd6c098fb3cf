// Transport 1: the API over Electron IPC. One handler per call of the contract, each checking the
// sender frame before the router (which validates the parameters with zod) sees the call. Node
// events go to our window on one channel.
import { ipcMain, type BrowserWindow, type IpcMainInvokeEvent, type WebContents } from 'electron';
import {
  IPC_EVENT_CHANNEL,
  METHOD_NAMES,
  ipcChannel,
  type ApiEvent,
  type CallOutcome,
} from '../../shared/api';
import type { Router } from '../provider/api/router';
import type { ScopedLogger } from '../provider/logs/logger';
import { checkSender, isRendererUrl, type RendererLocation, type SenderInfo } from './security';

export interface IpcBridgeOptions {
  router: Router;
  /** Our window, or null while there is none. */
  getWindow(): BrowserWindow | null;
  location: RendererLocation;
  log: ScopedLogger;
  /** Subscribe to node events; returns the unsubscribe function. */
  subscribe(listener: (event: ApiEvent) => void): () => void;
}

/** What the pure sender check needs, read from an IPC event. */
export function senderInfo(event: IpcMainInvokeEvent, window: BrowserWindow | null): SenderInfo {
  const frame = event.senderFrame;
  const contents = window && !window.isDestroyed() ? window.webContents : null;
  return {
    frameUrl: frame && !frame.isDestroyed() ? frame.url : null,
    isMainFrame: frame !== null && frame.parent === null,
    isOurWindow: contents !== null && event.sender === contents,
  };
}

/** The calls of each page still waiting for their answer. */
const inFlight = new WeakMap<WebContents, Set<AbortController>>();

/**
 * A signal for one call, aborted when its page goes away (closed, crashed, navigated). The page
 * gets one set of listeners for its life, not one per call (a busy page has many in flight).
 */
function callerGone(sender: WebContents): AbortController {
  let calls = inFlight.get(sender);
  if (!calls) {
    const set = new Set<AbortController>();
    calls = set;
    inFlight.set(sender, set);
    const abortAll = (): void => {
      for (const c of set) c.abort();
      set.clear();
    };
    sender.on('destroyed', abortAll);
    sender.on('render-process-gone', abortAll);
    sender.on('did-navigate', abortAll);
  }
  const call = new AbortController();
  calls.add(call);
  return call;
}

/** Registers the handlers; returns the function that removes them. */
export function registerIpcBridge(opts: IpcBridgeOptions): () => void {
  for (const method of METHOD_NAMES) {
    ipcMain.handle(ipcChannel(method), async (event, params: unknown): Promise<CallOutcome> => {
      const verdict = checkSender(senderInfo(event, opts.getWindow()), opts.location);
      if (!verdict.ok) {
        opts.log.warn('IPC call refused', { method, reason: verdict.reason });
        return {
          ok: false,
          error: { code: 'FORBIDDEN', message: `IPC call refused: ${verdict.reason}` },
        };
      }
      const gone = callerGone(event.sender);
      try {
        return await opts.router.dispatch(method, params, {
          transport: 'ipc',
          signal: gone.signal,
        });
      } finally {
        inFlight.get(event.sender)?.delete(gone);
      }
    });
  }

  const unsubscribe = opts.subscribe((event) => {
    const window = opts.getWindow();
    if (!window || window.isDestroyed()) return;
    const contents = window.webContents;
    if (contents.isDestroyed() || contents.isCrashed()) return;
    // Only our page gets node events, never whatever a frame might have been navigated to.
    if (!isRendererUrl(contents.getURL(), opts.location)) return;
    contents.send(IPC_EVENT_CHANNEL, event);
  });

  return () => {
    unsubscribe();
    for (const method of METHOD_NAMES) ipcMain.removeHandler(ipcChannel(method));
  };
}
