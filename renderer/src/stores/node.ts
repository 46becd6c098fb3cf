import { create } from 'zustand';
import type { ApiEvent, LogEntry, Settings, SettingsPatch, Status } from '../../../shared/api';
import type { ApiClient, ConnectionState } from '../api/client';

interface NodeStore {
  client: ApiClient | null;
  status: Status | null;
  settings: Settings | null;
  connection: ConnectionState;
  /** The last error of a call made from the UI, shown in a snackbar. */
  lastError: string | null;
  /** Newest log entries received as events (the Logs view loads the tail first). */
  liveLogs: LogEntry[];
  init(client: ApiClient): () => void;
  refresh(): Promise<void>;
  updateSettings(patch: SettingsPatch): Promise<boolean>;
  pause(minutes: number | null): Promise<void>;
  resume(): Promise<void>;
  clearError(): void;
}

const MAX_LIVE_LOGS = 500;

export const useNodeStore = create<NodeStore>((set, get) => {
  const guard = async <T>(fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (err) {
      set({ lastError: err instanceof Error ? err.message : String(err) });
      return undefined;
    }
  };

  const onEvent = (event: ApiEvent): void => {
    switch (event.type) {
      case 'status':
        set({ status: event.status });
        break;
      case 'settings':
        set({ settings: event.settings });
        break;
      case 'log':
        set((s) => ({ liveLogs: [...s.liveLogs, event.entry].slice(-MAX_LIVE_LOGS) }));
        break;
    }
  };

  return {
    client: null,
    status: null,
    settings: null,
    connection: 'connecting',
    lastError: null,
    liveLogs: [],
    init(client) {
      set({ client });
      const offEvents = client.subscribe(onEvent);
      const offConn = client.onConnection((connection) => {
        set({ connection });
        // After a reconnect, anything may have changed: reload the whole picture.
        if (connection === 'open') void get().refresh();
      });
      void get().refresh();
      return () => {
        offEvents();
        offConn();
      };
    },
    async refresh() {
      const client = get().client;
      if (!client) return;
      await guard(async () => {
        const [status, settings] = await Promise.all([
          client.call('status.get', {}),
          client.call('settings.get', {}),
        ]);
        set({ status, settings });
      });
    },
    async updateSettings(patch) {
      const client = get().client;
      if (!client) return false;
      const settings = await guard(() => client.call('settings.update', patch));
      if (settings) set({ settings });
      return settings !== undefined;
    },
    async pause(minutes) {
      const client = get().client;
      if (!client) return;
      const status = await guard(() => client.call('node.pause', { minutes }));
      if (status) set({ status });
    },
    async resume() {
      const client = get().client;
      if (!client) return;
      const status = await guard(() => client.call('node.resume', {}));
      if (status) set({ status });
    },
    clearError() {
      set({ lastError: null });
    },
  };
});
