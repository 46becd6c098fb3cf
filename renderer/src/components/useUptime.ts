import { useSyncExternalStore } from 'react';
import { useNodeStore } from '../stores/node';

// One shared one-second clock for everything that counts time on screen.
const listeners = new Set<() => void>();
let timer: ReturnType<typeof setInterval> | null = null;
let nowSeconds = Math.floor(Date.now() / 1000);

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  if (!timer) {
    nowSeconds = Math.floor(Date.now() / 1000);
    timer = setInterval(() => {
      nowSeconds = Math.floor(Date.now() / 1000);
      for (const l of listeners) l();
    }, 1000);
  }
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && timer) {
      clearInterval(timer);
      timer = null;
    }
  };
}

const snapshot = () => nowSeconds;

/**
 * The node's uptime in seconds, counting on between status updates. It adds the time since the
 * status arrived to the node's own figure, so a clock difference between the page and the node
 * (a headless node on another machine) does not matter.
 */
export function useUptime(): number | null {
  const now = useSyncExternalStore(subscribe, snapshot);
  const uptime = useNodeStore((s) => s.status?.uptimeSeconds);
  const receivedAt = useNodeStore((s) => s.statusReceivedAt);
  if (uptime === undefined) return null;
  return uptime + Math.max(0, now - receivedAt / 1000);
}
