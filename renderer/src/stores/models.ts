// Models for the Models page and the download notifications: the catalog, the installed models,
// the downloads (kept live by the node's model.download / models.installed events) and the fit
// estimates (asked once per catalog model, cached here).
import { useEffect } from 'react';
import { create } from 'zustand';
import type {
  ApiEvent,
  CatalogModelView,
  DownloadLimits,
  DownloadView,
  FitEstimate,
  InstalledList,
} from '../../../shared/api';
import { useNodeStore } from './node';

export interface DownloadNotice {
  id: string;
  name: string;
  ok: boolean;
  message: string;
}

type FitEntry = { state: 'loading' } | { state: 'ready'; fit: FitEstimate } | { state: 'error' };

interface ModelsStore {
  catalog: CatalogModelView[] | null;
  catalogSource: string | null;
  installed: InstalledList | null;
  downloads: Record<string, DownloadView>;
  limits: DownloadLimits | null;
  fits: Record<string, FitEntry>;
  /** Finished or failed downloads not yet shown in a notification. */
  notices: DownloadNotice[];
  refresh(): Promise<void>;
  /** Asks for the installed list again (the node checks every file on disk). */
  refreshInstalled(): Promise<void>;
  fit(modelId: string, variantId: string): void;
  download(modelId: string, variantId: string): Promise<void>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  cancel(id: string): Promise<void>;
  remove(id: string): Promise<boolean>;
  verify(id: string): Promise<{ ok: boolean; sha256: string; expected: string } | undefined>;
  shiftNotice(): void;
  /** Listens to the node's model events (reference-counted); returns its stop function. */
  start(): () => void;
}

let users = 0;
let stopFeed: (() => void) | null = null;

export const useModelsStore = create<ModelsStore>((set, get) => {
  const call = useNodeStore.getState().call;

  // Events seen: a snapshot asked for before one came is older than it (stores/node.ts). The
  // installed list comes whole; downloads one by one, so the snapshot's downloads are taken
  // except those an event told of since it was asked for (it may have ended or been removed).
  let seq = 0;
  let installedAt = -1;
  const downloadAt = new Map<string, number>();
  const onEvent = (event: ApiEvent): void => {
    if (event.type === 'model.download') downloadAt.set(event.download.id, ++seq);
    else if (event.type === 'models.installed') installedAt = ++seq;
    if (event.type === 'model.download') {
      const d = event.download;
      const before = get().downloads[d.id];
      set((s) => ({ downloads: { ...s.downloads, [d.id]: d } }));
      const ended = d.state === 'done' || d.state === 'failed';
      if (ended && before?.state !== d.state) {
        set((s) => ({
          notices: [
            ...s.notices,
            {
              id: d.id,
              name: d.name,
              ok: d.state === 'done',
              message:
                d.state === 'done'
                  ? `${d.name} is downloaded and verified.`
                  : `${d.name} failed: ${d.error?.message ?? 'unknown error'}`,
            },
          ],
        }));
      }
      if (d.state === 'cancelled') {
        set((s) => {
          const next = { ...s.downloads };
          delete next[d.id];
          return { downloads: next };
        });
      }
    } else if (event.type === 'models.installed') {
      set((s) => ({
        installed: event.installed,
        catalog:
          s.catalog?.map((m) => ({
            ...m,
            variants: m.variants.map((v) => ({
              ...v,
              installed: event.installed.models.some((x) => x.id === v.id),
            })),
          })) ?? null,
      }));
    }
  };

  return {
    catalog: null,
    catalogSource: null,
    installed: null,
    downloads: {},
    limits: null,
    fits: {},
    notices: [],
    async refresh() {
      const asked = seq;
      const [catalog, installed, downloads] = await Promise.all([
        call('models.catalog', {}),
        call('models.installed', {}),
        call('models.downloads', {}),
      ]);
      if (catalog) set({ catalog: catalog.models, catalogSource: catalog.source });
      if (installed && installedAt <= asked) set({ installed });
      if (downloads) {
        const newer = (id: string): boolean => (downloadAt.get(id) ?? -1) > asked;
        set((s) => {
          const next: Record<string, DownloadView> = {};
          for (const d of downloads.downloads) if (!newer(d.id)) next[d.id] = d;
          for (const [id, d] of Object.entries(s.downloads)) if (newer(id)) next[id] = d;
          return { downloads: next, limits: downloads.limits };
        });
      }
    },
    async refreshInstalled() {
      const installed = await call('models.installed', {});
      if (installed) onEvent({ type: 'models.installed', installed });
    },
    fit(modelId, variantId) {
      const key = `${modelId}/${variantId}`;
      if (get().fits[key]) return;
      set((s) => ({ fits: { ...s.fits, [key]: { state: 'loading' } } }));
      void call('models.fit', { modelId, variantId }).then((fit) => {
        set((s) => ({
          fits: { ...s.fits, [key]: fit ? { state: 'ready', fit } : { state: 'error' } },
        }));
      });
    },
    async download(modelId, variantId) {
      const d = await call('models.download', { modelId, variantId });
      if (d) set((s) => ({ downloads: { ...s.downloads, [d.id]: d } }));
    },
    async pause(id) {
      const d = await call('models.pause', { id });
      if (d) set((s) => ({ downloads: { ...s.downloads, [d.id]: d } }));
    },
    async resume(id) {
      const d = await call('models.resume', { id });
      if (d) set((s) => ({ downloads: { ...s.downloads, [d.id]: d } }));
    },
    async cancel(id) {
      await call('models.cancel', { id });
      set((s) => {
        const next = { ...s.downloads };
        delete next[id];
        return { downloads: next };
      });
    },
    async remove(id) {
      const r = await call('models.delete', { id });
      if (!r) return false;
      set((s) => {
        const next = { ...s.downloads };
        delete next[id];
        return { downloads: next };
      });
      await get().refreshInstalled();
      return true;
    },
    async verify(id) {
      return call('models.verify', { id });
    },
    shiftNotice() {
      set((s) => ({ notices: s.notices.slice(1) }));
    },
    start() {
      users++;
      if (users === 1) {
        const client = useNodeStore.getState().client;
        const off = client ? client.subscribe(onEvent) : () => undefined;
        void get().refresh();
        stopFeed = off;
      }
      return () => {
        users--;
        if (users === 0 && stopFeed) {
          stopFeed();
          stopFeed = null;
        }
      };
    },
  };
});

/** Keeps the models feed running while the calling component is mounted. */
export function useModelsFeed(): void {
  const client = useNodeStore((s) => s.client);
  useEffect(() => {
    if (!client) return undefined;
    return useModelsStore.getState().start();
  }, [client]);
}
