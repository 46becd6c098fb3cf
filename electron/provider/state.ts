import type { NodeState, Settings } from '../../shared/api';

export interface StateInput {
  settings: Settings;
  now: Date;
}

export interface StateDecision {
  state: NodeState;
  reasonCode: string;
  reason: string;
  pausedUntil: string | null;
}

function clock(iso: string, now: Date): string {
  const d = new Date(iso);
  const sameDay = d.toDateString() === now.toDateString();
  const time = d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
  return sameDay
    ? time
    : `${d.toLocaleDateString(undefined, { weekday: 'short', month: 'short', day: 'numeric' })} ${time}`;
}

/**
 * Why the node is or is not earning, as a pure function of what it knows. The earning policy
 * (schedule, idle, battery, temperature, price) and the market connection extend this.
 */
export function decideState({ settings, now }: StateInput): StateDecision {
  const pause = settings.pause;
  if (pause && (pause.until === null || Date.parse(pause.until) > now.getTime())) {
    return {
      state: 'paused',
      reasonCode: 'PAUSED_BY_USER',
      reason:
        pause.until === null ? 'Paused by you' : `Paused by you until ${clock(pause.until, now)}`,
      pausedUntil: pause.until,
    };
  }
  return {
    state: 'offline',
    reasonCode: 'NO_GATEWAY',
    reason: 'Offline: no gateway configured',
    pausedUntil: null,
  };
}
