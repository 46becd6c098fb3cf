// The sandboxed preload. It exposes the typed API as named methods, one IPC channel per call,
// and a subscription to node events. No ipcRenderer, no generic invoke, no Node reaches the page.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import {
  METHOD_NAMES,
  ipcChannel,
  IPC_EVENT_CHANNEL,
  type PreloadBridge,
} from '../../shared/api/methods';

const bridge = {} as Record<string, unknown>;
for (const method of METHOD_NAMES) {
  const channel = ipcChannel(method);
  bridge[method] = (params: unknown) => ipcRenderer.invoke(channel, params);
}
bridge.onEvent = (listener: (event: unknown) => void) => {
  const wrapped = (_e: IpcRendererEvent, event: unknown): void => listener(event);
  ipcRenderer.on(IPC_EVENT_CHANNEL, wrapped);
  return () => {
    ipcRenderer.off(IPC_EVENT_CHANNEL, wrapped);
  };
};

contextBridge.exposeInMainWorld('idlerig', Object.freeze(bridge) as PreloadBridge);
