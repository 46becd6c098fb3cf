// GPUs, telemetry, energy and the earning policy for the Dashboard's GPU cards and the Power page.
// Pages call `usePowerFeed()` while they are shown: the first one loads everything and listens to
// the node's telemetry events; status and settings events refresh the policy and the energy.
import { useEffect } from 'react';
import { create } from 'zustand';
import type {
  ApiEvent,
  EnergySummary,
  GpuInventory,
  PolicyState,
  TelemetrySample,
  TelemetryStatus,
} from '../../../shared/api';
import { useNodeStore } from './node';

/** Telemetry kept for the charts. */
export const HISTORY_MS = 10 * 60_000;

interface PowerStore {
  inventory: GpuInventory | null;
  samples: TelemetrySample[];
  telemetryStatus: TelemetryStatus | null;
  energy: EnergySummary | null;
  policy: PolicyState | null;
  refreshGpus(redetect?: boolean): Promise<void>;
  refreshPolicy(): Promise<void>;
  refreshEnergy(): Promise<void>;
  /** Starts the feed (reference-counted); returns its stop function. */
  start(): () => void;
}

let users = 0;
let stopFeed: (() => void) | null = null;

export const usePowerStore = create<PowerStore>((set, get) => {
  const call = useNodeStore.getState().call;

  const onEvent = (event: ApiEvent): void => {
    if (event.type === 'telemetry') {
      const horizon = Date.now() - HISTORY_MS;
      set((s) => ({
        samples: [...s.samples.filter((x) => x.t >= horizon), ...event.samples],
      }));
    } else if (event.type === 'status' || event.type === 'settings') {
      void get().refreshPolicy();
      void get().refreshEnergy();
    }
  };

  return {
    inventory: null,
    samples: [],
    telemetryStatus: null,
    energy: null,
    policy: null,
    async refreshGpus(redetect = false) {
      const inventory = await call('gpus.list', { refresh: redetect });
      if (inventory) set({ inventory });
    },
    async refreshPolicy() {
      const policy = await call('policy.get', {});
      if (policy) set({ policy });
    },
    async refreshEnergy() {
      const energy = await call('energy.summary', { days: 7 });
      if (energy) set({ energy });
    },
    start() {
      users++;
      if (users === 1) {
        const client = useNodeStore.getState().client;
        const off = client ? client.subscribe(onEvent) : () => undefined;
        void call('telemetry.recent', { seconds: HISTORY_MS / 1000 }).then((recent) => {
          if (!recent) return;
          // Samples that came as events meanwhile are newer than the answer: kept after it.
          const last = recent.samples.reduce((t, x) => Math.max(t, x.t), -Infinity);
          set((s) => ({
            samples: [...recent.samples, ...s.samples.filter((x) => x.t > last)],
            telemetryStatus: recent.status,
          }));
        });
        void get().refreshGpus();
        void get().refreshPolicy();
        void get().refreshEnergy();
        const timer = setInterval(() => {
          void get().refreshEnergy();
          void call('telemetry.recent', { seconds: 1 }).then((recent) => {
            if (recent) set({ telemetryStatus: recent.status });
          });
        }, 10_000);
        stopFeed = () => {
          off();
          clearInterval(timer);
        };
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

/** Keeps the power feed running while the calling component is mounted. */
export function usePowerFeed(): void {
  const client = useNodeStore((s) => s.client);
  useEffect(() => {
    if (!client) return undefined;
    return usePowerStore.getState().start();
  }, [client]);
}

/** Samples of one GPU, oldest first. */
export function samplesOf(samples: readonly TelemetrySample[], gpuId: string): TelemetrySample[] {
  return samples.filter((s) => s.gpuId === gpuId);
}

/** Total power over time: one point per telemetry tick (samples of a tick share their time). */
export function totalPower(
  samples: readonly TelemetrySample[],
): { t: number; w: number; estimated: boolean }[] {
  const byT = new Map<number, { t: number; w: number; estimated: boolean }>();
  for (const s of samples) {
    if (s.powerW === null) continue;
    const p = byT.get(s.t) ?? { t: s.t, w: 0, estimated: false };
    p.w += s.powerW;
    p.estimated ||= s.powerEstimated;
    byT.set(s.t, p);
  }
  return [...byT.values()].sort((a, b) => a.t - b.t);
}
