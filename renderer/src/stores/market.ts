// The market as the dashboard shows it: the gateways, the jobs running now, what the node last
// shared with a gateway, and the node key's address. Loaded once, kept current by `market` events
// (the node sends them throttled, twice a second while jobs stream).
import { useEffect } from 'react';
import { create } from 'zustand';
import type { ApiEvent } from '../../../shared/api';
import type { MarketStatus } from '../../../shared/api/market';
import { IdlerigError } from '../../../shared/errors';
import { useNodeStore } from './node';

interface MarketStore {
  market: MarketStatus | null;
  refresh(): Promise<void>;
  /** Adds a gateway URL; returns the node's error message for the form, or null. */
  addGateway(url: string): Promise<string | null>;
  removeGateway(url: string): Promise<void>;
  start(): () => void;
}

let users = 0;
let stopFeed: (() => void) | null = null;

export const useMarketStore = create<MarketStore>((set, get) => {
  const node = () => useNodeStore.getState();
  // Market events seen: a snapshot asked for before one came is older than it (see node.ts).
  let seen = 0;
  const onEvent = (event: ApiEvent): void => {
    if (event.type !== 'market') return;
    seen++;
    set({ market: event.market });
  };
  return {
    market: null,
    async refresh() {
      const before = seen;
      const market = await node().call('market.status', {});
      if (market && seen === before) set({ market });
    },
    async addGateway(url) {
      const client = node().client;
      if (!client) return 'Not connected to the node';
      try {
        set({ market: await client.call('market.addGateway', { url }) });
        return null;
      } catch (err) {
        // A refused URL: the schema's words (e.g. "use https"), not the call's name.
        if (err instanceof IdlerigError && Array.isArray(err.details))
          return (err.details as { message?: string }[]).map((d) => d.message ?? '').join('; ');
        return err instanceof Error ? err.message : String(err);
      }
    },
    async removeGateway(url) {
      const market = await node().call('market.removeGateway', { url });
      if (market) set({ market });
    },
    start() {
      users++;
      if (users === 1) {
        const client = node().client;
        const off = client ? client.subscribe(onEvent) : () => undefined;
        void get().refresh();
        stopFeed = off;
      }
      return () => {
        users--;
        if (users === 0) {
          stopFeed?.();
          stopFeed = null;
        }
      };
    },
  };
});

/** Keeps the market view current while the calling component is shown. */
export function useMarketFeed(): MarketStatus | null {
  const start = useMarketStore((s) => s.start);
  useEffect(() => start(), [start]);
  return useMarketStore((s) => s.market);
}
