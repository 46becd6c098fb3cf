// How a gateway session reads on the dashboard: a label and a chip colour per phase.
import type { GatewayView } from '../../../../shared/api/market';

export const PHASE_LABEL: Record<GatewayView['phase'], string> = {
  connecting: 'Connecting',
  'logging-in': 'Signing in',
  ready: 'Connected',
  paused: 'Paused by the gateway',
  waiting: 'Unreachable',
  refused: 'Refused',
  stopped: 'Stopped',
  invalid: 'Invalid URL',
};

export const PHASE_CHIP: Record<GatewayView['phase'], 'default' | 'success' | 'warning' | 'error'> =
  {
    connecting: 'warning',
    'logging-in': 'warning',
    ready: 'success',
    paused: 'warning',
    waiting: 'error',
    refused: 'error',
    stopped: 'default',
    invalid: 'error',
  };

/** "retrying in 8 s" while a redial waits (the node sends a new view every second then). */
export function retryText(g: GatewayView): string | null {
  return g.retryInSeconds === null ? null : `retrying in ${g.retryInSeconds} s`;
}
