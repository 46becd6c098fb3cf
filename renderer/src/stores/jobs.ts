// The job record for the Dashboard and the Settings page: the last 30 days' totals and the
// database's size. Refreshed when a job ends (a test job's engine.test done/error event, a status
// change) and when a page that shows them mounts.
import { useEffect } from 'react';
import { create } from 'zustand';
import type { ApiEvent, JobsAggregates, JobsStorage } from '../../../shared/api';
import { useNodeStore } from './node';

interface JobsStore {
  days: JobsAggregates | null;
  storage: JobsStorage | null;
  /** Bumped whenever jobs may have changed: the Jobs page reloads its page of rows. */
  version: number;
  refreshDays(): Promise<void>;
  refreshStorage(): Promise<void>;
  start(): () => void;
}

let users = 0;
let unsubscribe: (() => void) | null = null;

export const useJobsStore = create<JobsStore>((set, get) => {
  const call = useNodeStore.getState().call;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const changed = (): void => {
    // Several events close together (a job's end, its status) make one refresh.
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      set((s) => ({ version: s.version + 1 }));
      void get().refreshDays();
    }, 250);
  };
  const onEvent = (event: ApiEvent): void => {
    if (event.type === 'engine.test' && (event.phase === 'done' || event.phase === 'error'))
      changed();
    else if (event.type === 'status') changed();
  };
  return {
    days: null,
    storage: null,
    version: 0,
    async refreshDays() {
      const days = await call('jobs.aggregates', { bucket: 'day', days: 30 });
      if (days) set({ days });
    },
    async refreshStorage() {
      const storage = await call('jobs.storage', {});
      if (storage) set({ storage });
    },
    start() {
      users++;
      if (users === 1) {
        const client = useNodeStore.getState().client;
        unsubscribe = client ? client.subscribe(onEvent) : null;
      }
      void get().refreshDays();
      return () => {
        users--;
        if (users === 0) {
          unsubscribe?.();
          unsubscribe = null;
        }
      };
    },
  };
});

/** Keeps the job totals live while the calling component is shown. */
export function useJobsFeed(): void {
  useEffect(() => useJobsStore.getState().start(), []);
}
