import { describe, expect, it } from 'vitest';
import type { NodeState, Status } from '../../shared/api/status';
import { NODE_STATES } from '../../shared/api/status';
import {
  PAUSE_HOUR_MINUTES,
  TOOLTIP_MAX,
  formatTokenAmount,
  trayModel,
  type TrayItem,
} from '../../electron/main/tray-model';

function status(state: NodeState, extra: Partial<Status> = {}): Status {
  return {
    state,
    reasonCode: 'TEST',
    reason: '',
    version: '0.1.0',
    startedAt: '2025-01-01T00:00:00.000Z',
    uptimeSeconds: 1,
    mode: 'electron',
    dataDir: '/tmp/idlerig',
    pausedUntil: null,
    warnings: [],
    earningsToday: null,
    capabilities: { loginItem: true, diagnosticsDownload: false },
    ...extra,
  };
}

const ids = (items: TrayItem[]): string[] => items.map((i) => i.id);
const item = (items: TrayItem[], id: string) => {
  const found = items.find((i) => i.id === id);
  if (!found || found.type !== 'item') throw new Error(`no item ${id}`);
  return found;
};

describe('trayModel', () => {
  it.each([
    ['starting', 'idle'],
    ['earning', 'earning'],
    ['idle', 'idle'],
    ['paused', 'paused'],
    ['offline', 'offline'],
    ['error', 'error'],
  ] as const)('state %s shows the %s icon', (state, icon) => {
    expect(trayModel(status(state)).icon).toBe(icon);
  });

  it('covers every node state', () => {
    for (const state of NODE_STATES) expect(() => trayModel(status(state))).not.toThrow();
  });

  it('shows the reason as a disabled state line, and in the tooltip', () => {
    const model = trayModel(status('offline', { reason: 'Offline: no gateway configured' }));
    expect(item(model.items, 'state')).toMatchObject({
      label: 'Offline: no gateway configured',
      enabled: false,
    });
    expect(model.tooltip).toBe(
      'Idlerig: Offline: no gateway configured\nEarned today: nothing yet',
    );
  });

  it('falls back to the state word when there is no reason', () => {
    expect(item(trayModel(status('starting')).items, 'state').label).toBe('Starting');
    expect(item(trayModel(status('error')).items, 'state').label).toBe('Error');
  });

  it('says "nothing yet" while there are no earnings', () => {
    expect(item(trayModel(status('idle')).items, 'earnings')).toMatchObject({
      label: 'Earned today: nothing yet',
      enabled: false,
    });
  });

  it('formats today’s earnings from the smallest unit with the token decimals', () => {
    const model = trayModel(
      status('earning', {
        earningsToday: { amount: '1234567890000000000000', symbol: 'USDC', decimals: 18 },
      }),
      { locale: 'en-US' },
    );
    expect(item(model.items, 'earnings').label).toBe('Earned today: 1,234.5678 USDC');
  });

  it('offers "Pause for 1 hour" and "Pause until resumed" when not paused', () => {
    for (const state of ['starting', 'earning', 'idle', 'offline', 'error'] as const) {
      const { items } = trayModel(status(state));
      expect(ids(items)).toEqual([
        'state',
        'earnings',
        'separator-status',
        'pause-hour',
        'pause',
        'open',
        'separator-quit',
        'quit',
      ]);
      expect(item(items, 'pause-hour')).toMatchObject({
        label: 'Pause for 1 hour',
        enabled: true,
        action: { kind: 'pause', minutes: PAUSE_HOUR_MINUTES },
      });
      expect(item(items, 'pause')).toMatchObject({
        label: 'Pause until resumed',
        action: { kind: 'pause', minutes: null },
      });
    }
    expect(PAUSE_HOUR_MINUTES).toBe(60);
  });

  it('offers only "Resume" when paused', () => {
    const { items } = trayModel(
      status('paused', { reason: 'Paused by you', pausedUntil: '2025-01-01T01:00:00.000Z' }),
    );
    expect(ids(items)).toEqual([
      'state',
      'earnings',
      'separator-status',
      'resume',
      'open',
      'separator-quit',
      'quit',
    ]);
    expect(item(items, 'resume')).toMatchObject({
      label: 'Resume',
      enabled: true,
      action: { kind: 'resume' },
    });
  });

  it('always has Open dashboard and Quit', () => {
    const { items } = trayModel(status('idle'));
    expect(item(items, 'open')).toMatchObject({
      label: 'Open dashboard',
      action: { kind: 'open' },
    });
    expect(item(items, 'quit')).toMatchObject({ label: 'Quit Idlerig', action: { kind: 'quit' } });
  });

  it('keeps the tooltip within the Windows limit', () => {
    const model = trayModel(status('error', { reason: 'x'.repeat(500) }));
    expect(model.tooltip.length).toBeLessThanOrEqual(TOOLTIP_MAX);
    expect(model.tooltip.endsWith('…')).toBe(true);
  });
});

describe('formatTokenAmount', () => {
  const en = (amount: string, decimals: number, symbol = 'USDC') =>
    formatTokenAmount(amount, decimals, symbol, 'en-US');

  it('places the decimal point by the token decimals', () => {
    expect(en('12500000', 6)).toBe('12.5 USDC');
    expect(en('1000000', 6)).toBe('1 USDC');
    expect(en('0', 6)).toBe('0 USDC');
    expect(en('42', 0, 'PTS')).toBe('42 PTS');
  });

  it('truncates to four decimals: money is never rounded up', () => {
    expect(en('1999999', 6)).toBe('1.9999 USDC');
    expect(en('123456789', 6)).toBe('123.4567 USDC');
  });

  it('groups thousands and keeps bigint precision beyond 2^53', () => {
    expect(en('123456789012345678901234567890', 18, 'IDL')).toBe('123,456,789,012.3456 IDL');
  });

  it('says "< 0.0001" for a non-zero amount too small to show', () => {
    expect(en('1', 18)).toBe('< 0.0001 USDC');
    expect(en('99', 6)).toBe('< 0.0001 USDC');
  });

  it('uses the locale’s separators', () => {
    expect(formatTokenAmount('1234500000', 6, 'USDC', 'de-DE')).toBe('1.234,5 USDC');
  });

  it('refuses what is not an amount in smallest units', () => {
    expect(() => en('-1', 6)).toThrow(RangeError);
    expect(() => en('1.5', 6)).toThrow(RangeError);
  });
});
