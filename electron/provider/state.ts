// Why the node is or is not earning: the earning policy (electron/provider/policy/policy.ts).
// decideState is its answer from the settings and the clock alone (no telemetry, headless idle,
// no market), used before the node's power services run; the node itself asks PowerServices,
// which feeds the policy everything it knows.
import type { NodeState, Settings } from '../../shared/api';
import { decidePolicy, type PolicyDecision } from './policy/policy';

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

export function decideState({ settings, now }: StateInput): PolicyDecision {
  return decidePolicy({
    settings: { pause: settings.pause, power: settings.power },
    now,
    telemetry: [],
    idleSeconds: null,
    powerSource: 'unknown',
    previous: null,
  });
}
