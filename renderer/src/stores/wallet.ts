// The wallet page's state: the node's wallet status (addresses, balances, earnings, transactions),
// refreshed when the page mounts, after each action, and every few seconds while it is shown (a
// claim by the watchtower, a job's voucher). Dialogs call the node through `attempt`, which gives
// the typed error back for display next to the field instead of the snackbar.
import { useEffect } from 'react';
import { create } from 'zustand';
import type { MethodName, Params, Result, WalletStatus } from '../../../shared/api';
import { IdlerigError } from '../../../shared/errors';
import { useNodeStore } from './node';

export type Attempt<T> = { ok: true; value: T } | { ok: false; error: string };

interface WalletStore {
  status: WalletStatus | null;
  refresh(): Promise<void>;
  attempt<M extends MethodName>(method: M, params: Params<M>): Promise<Attempt<Result<M>>>;
}

export const useWalletStore = create<WalletStore>((set) => ({
  status: null,
  async refresh() {
    const status = await useNodeStore.getState().call('wallet.status', {});
    if (status) set({ status });
  },
  async attempt(method, params) {
    const client = useNodeStore.getState().client;
    if (!client) return { ok: false, error: 'Not connected to the node' };
    try {
      return { ok: true, value: await client.call(method, params) };
    } catch (err) {
      return {
        ok: false,
        error: err instanceof IdlerigError || err instanceof Error ? err.message : String(err),
      };
    }
  },
}));

/** Keeps the wallet status fresh while a page shows it. */
export function useWalletFeed(everyMs = 5000): void {
  const client = useNodeStore((s) => s.client);
  useEffect(() => {
    if (!client) return;
    void useWalletStore.getState().refresh();
    const timer = setInterval(() => void useWalletStore.getState().refresh(), everyMs);
    return () => clearInterval(timer);
  }, [client, everyMs]);
}
