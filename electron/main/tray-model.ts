// What the tray shows, as a pure function of the node's status: the icon, the tooltip and the
// menu. tray.ts only renders it, so every state and label is tested without Electron.
import type { NodeState, Status } from '../../shared/api/status';
import { formatTokenAmount as formatAmount } from '../../shared/payments';

export const TRAY_ICONS = ['earning', 'idle', 'paused', 'offline', 'error'] as const;
export type TrayIcon = (typeof TRAY_ICONS)[number];

/** What a menu item does when clicked. */
export type TrayAction =
  | { kind: 'pause'; minutes: number | null }
  | { kind: 'resume' }
  | { kind: 'open' }
  | { kind: 'quit' };

export type TrayItemId =
  | 'state'
  | 'earnings'
  | 'pause-hour'
  | 'pause'
  | 'resume'
  | 'open'
  | 'quit'
  | 'demo'
  | 'separator-status'
  | 'separator-quit';

export type TrayItem =
  | { type: 'item'; id: TrayItemId; label: string; enabled: boolean; action?: TrayAction }
  | { type: 'separator'; id: TrayItemId };

export interface TrayModel {
  icon: TrayIcon;
  tooltip: string;
  items: TrayItem[];
}

export interface TrayModelOptions {
  /** Shown first in the tooltip. */
  appName?: string;
  /** Locale for digit grouping of earnings; the system's when left out. */
  locale?: string;
}

const ICON_OF_STATE: Record<NodeState, TrayIcon> = {
  starting: 'idle',
  earning: 'earning',
  idle: 'idle',
  paused: 'paused',
  offline: 'offline',
  error: 'error',
};

const STATE_WORD: Record<NodeState, string> = {
  starting: 'Starting',
  earning: 'Earning',
  idle: 'Idle',
  paused: 'Paused',
  offline: 'Offline',
  error: 'Error',
};

/** The tray's line while the node serves the local demo network (shared/api/devnet.ts). */
export const DEMO_TRAY_LABEL =
  'Demo network: play money on this computer. A real one needs a gateway URL and a payout wallet.';

/** Windows cuts tray tooltips at 127 characters. */
export const TOOLTIP_MAX = 127;

/** Minutes of "Pause for 1 hour". */
export const PAUSE_HOUR_MINUTES = 60;

export function trayModel(status: Status, opts: TrayModelOptions = {}): TrayModel {
  const appName = opts.appName ?? 'Idlerig';
  const stateLabel = status.reason.trim() || STATE_WORD[status.state];
  const earnings = status.earningsToday
    ? `Earned today: ${formatTokenAmount(status.earningsToday.amount, status.earningsToday.decimals, status.earningsToday.symbol, opts.locale)}`
    : 'Earned today: nothing yet';

  const pauseItems: TrayItem[] =
    status.state === 'paused'
      ? [
          {
            type: 'item',
            id: 'resume',
            label: 'Resume',
            enabled: true,
            action: { kind: 'resume' },
          },
        ]
      : [
          {
            type: 'item',
            id: 'pause-hour',
            label: 'Pause for 1 hour',
            enabled: true,
            action: { kind: 'pause', minutes: PAUSE_HOUR_MINUTES },
          },
          {
            type: 'item',
            id: 'pause',
            label: 'Pause until resumed',
            enabled: true,
            action: { kind: 'pause', minutes: null },
          },
        ];

  return {
    icon: ICON_OF_STATE[status.state],
    tooltip: truncate(
      `${appName}${status.demoNetwork ? ' (demo)' : ''}: ${stateLabel}\n${earnings}`,
      TOOLTIP_MAX,
    ),
    items: [
      { type: 'item', id: 'state', label: stateLabel, enabled: false },
      { type: 'item', id: 'earnings', label: earnings, enabled: false },
      ...(status.demoNetwork
        ? [{ type: 'item', id: 'demo', label: DEMO_TRAY_LABEL, enabled: false } as TrayItem]
        : []),
      { type: 'separator', id: 'separator-status' },
      ...pauseItems,
      {
        type: 'item',
        id: 'open',
        label: 'Open dashboard',
        enabled: true,
        action: { kind: 'open' },
      },
      { type: 'separator', id: 'separator-quit' },
      {
        type: 'item',
        id: 'quit',
        label: `Quit ${appName}`,
        enabled: true,
        action: { kind: 'quit' },
      },
    ],
  };
}

/** A token amount for the tray: shared/payments.ts's formatter, 4 decimals. */
export function formatTokenAmount(
  amount: string,
  decimals: number,
  symbol: string,
  locale?: string,
  maxFraction = 4,
): string {
  return formatAmount(amount, decimals, symbol, { locale, maxFraction });
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
