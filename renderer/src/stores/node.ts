import { create } from 'zustand';
import type {
  ApiEvent,
  LogEntry,
  MethodName,
  Params,
  Result,
  Settings,
  SettingsPatch,
  Status,
} from '../../../shared/api';
import { IdlerigError } from '../../../shared/errors';
import type { ApiClient, ConnectionState } from '../api/client';

/** What a settings change came to: the new settings, or the typed error (for inline display). */
export type SettingsUpdateOutcome =
  { ok: true; settings: Settings } | { ok: false; error: IdlerigError };

interface NodeStore {
  client: ApiClient | null;
  status: Status | null;
  /** When `status` arrived (ms since epoch, this page's clock): uptime counts on from there. */
  statusReceivedAt: number;
  settings: Settings | null;
  connection: ConnectionState;
  /** True once the event stream had been open and then dropped, until it is open again. */
  connectionLost: boolean;
  /**
   * True once the node answered but refused this page's token (it restarted with a new one),
   * until the event stream is open again.
   */
  tokenRefused: boolean;
  /** The last error of a call made from the UI, shown in a snackbar. */
  lastError: string | null;
  /** Newest log entries received as events (the Logs view loads the tail first). */
  liveLogs: LogEntry[];
  init(client: ApiClient): () => void;
  refresh(): Promise<void>;
  /**
   * Changes settings. An INVALID_PARAMS error is returned for the form to show next to its field;
   * any other error also goes to `lastError`.
   */
  updateSettings(patch: SettingsPatch): Promise<SettingsUpdateOutcome>;
  /** For N minutes, until tomorrow 07:00 local time ('tomorrow'), or until resumed (null). */
  pause(minutes: number | null | 'tomorrow'): Promise<void>;
  resume(): Promise<void>;
  /** Any other call; an error goes to `lastError` and resolves to undefined. */
  call<M extends MethodName>(method: M, params: Params<M>): Promise<Result<M> | undefined>;
  clearError(): void;
}

const MAX_LIVE_LOGS = 500;

export const useNodeStore = create<NodeStore>((set, get) => {
  const guard = async <T>(fn: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await fn();
    } catch (err) {
      // A refused token (the node restarted) and a node that does not answer are the
      // connection banner's to explain, once.
      if (
        err instanceof IdlerigError &&
        (err.code === 'UNAUTHORIZED' || err.code === 'UNAVAILABLE')
      )
        return undefined;
      set({ lastError: err instanceof Error ? err.message : String(err) });
      return undefined;
    }
  };

  // Events seen per kind: a snapshot asked for before an event came is older than it and must
  // not replace it (the node answers a call and pushes an event in either order).
  const seen = { status: 0, settings: 0 };
  const onEvent = (event: ApiEvent): void => {
    switch (event.type) {
      case 'status':
        seen.status++;
        set({ status: event.status, statusReceivedAt: Date.now() });
        break;
      case 'settings':
        seen.settings++;
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
    statusReceivedAt: 0,
    connection: 'connecting',
    connectionLost: false,
    tokenRefused: false,
    lastError: null,
    liveLogs: [],
    init(client) {
      set({ client });
      const offEvents = client.subscribe(onEvent);
      let wasOpen = false;
      const offConn = client.onConnection((connection) => {
        if (connection === 'open') wasOpen = true;
        set((s) => ({
          connection,
          connectionLost: wasOpen && connection !== 'open',
          // Retries in between ('connecting', 'closed') do not make the refusal untrue.
          tokenRefused: connection === 'refused' || (s.tokenRefused && connection !== 'open'),
        }));
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
      const before = { ...seen };
      await guard(async () => {
        const [status, settings] = await Promise.all([
          client.call('status.get', {}),
          client.call('settings.get', {}),
        ]);
        set({
          ...(seen.status === before.status ? { status, statusReceivedAt: Date.now() } : {}),
          ...(seen.settings === before.settings ? { settings } : {}),
        });
      });
    },
    async updateSettings(patch) {
      const client = get().client;
      if (!client) return { ok: false, error: new IdlerigError('UNAVAILABLE', 'Not connected') };
      try {
        const settings = await client.call('settings.update', patch);
        set({ settings });
        return { ok: true, settings };
      } catch (err) {
        const error =
          err instanceof IdlerigError
            ? err
            : new IdlerigError('INTERNAL', err instanceof Error ? err.message : String(err));
        if (error.code !== 'INVALID_PARAMS') set({ lastError: error.message });
        return { ok: false, error };
      }
    },
    async pause(minutes) {
      const client = get().client;
      if (!client) return;
      const status = await guard(() =>
        client.call('node.pause', minutes === 'tomorrow' ? { until: 'tomorrow' } : { minutes }),
      );
      if (status) set({ status, statusReceivedAt: Date.now() });
    },
    async resume() {
      const client = get().client;
      if (!client) return;
      const status = await guard(() => client.call('node.resume', {}));
      if (status) set({ status, statusReceivedAt: Date.now() });
    },
    async call(method, params) {
      const client = get().client;
      if (!client) return undefined;
      return guard(() => client.call(method, params));
    },
    clearError() {
      set({ lastError: null });
    },
  };
});
