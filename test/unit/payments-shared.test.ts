// shared/payments.ts: the one token-amount formatter and parser, the voucher wire form, and the
// provider's human-readable hub ABI against the compiled contract.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Interface } from 'ethers';
import {
  claimableFrom,
  formatTokenAmount,
  HUB_PROVIDER_ABI,
  hubDomain,
  parseTokenAmount,
  voucherFromWire,
  voucherToWire,
} from '../../shared/payments';
import { IdlerigError } from '../../shared/errors';
import { PaymentHub } from '../../contracts/generated/PaymentHub';
import { formatTokenAmount as dashboardFormat } from '../../renderer/src/format';
import { formatTokenAmount as trayFormat } from '../../electron/main/tray-model';

const A = '0x' + '11'.repeat(20);
const B = '0x' + '22'.repeat(20);
const T = '0x' + '33'.repeat(20);
const H = '0x' + '44'.repeat(20);
const SIG = '0x' + 'ab'.repeat(65);

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (err) {
    return err instanceof IdlerigError ? err.code : 'other';
  }
  return undefined;
}

describe('formatTokenAmount', () => {
  it('truncates (never rounds up money), drops trailing zeros, groups, and says < for dust', () => {
    const f = (a: string | bigint, d: number, o = {}) =>
      formatTokenAmount(a, d, 'USDC', { locale: 'en-US', ...o });
    expect(f('1234567899', 6)).toBe('1,234.5678 USDC');
    expect(f(1_234_500_000n, 6)).toBe('1,234.5 USDC');
    expect(f('1000000', 6)).toBe('1 USDC');
    expect(f('0', 6)).toBe('0 USDC');
    expect(f('50', 6)).toBe('< 0.0001 USDC');
    expect(f('1999999', 6, { maxFraction: 2 })).toBe('1.99 USDC');
    expect(f('4', 6, { maxFraction: 2 })).toBe('< 0.01 USDC');
    expect(f('42', 0)).toBe('42 USDC');
    expect(f(10n ** 30n, 18)).toBe('1,000,000,000,000 USDC');
    expect(formatTokenAmount('1234500000', 6, 'USDC', { locale: 'de-DE' })).toBe('1.234,5 USDC');
    expect(() => f('-1', 6)).toThrow(RangeError);
    expect(() => f('1.5', 6)).toThrow(RangeError);
    expect(() => f(-1n, 6)).toThrow(RangeError);
  });

  it('is the one formatter behind the tray (4 decimals) and the dashboard (2 decimals)', () => {
    expect(trayFormat('1234567899', 6, 'USDC', 'en-US')).toBe(
      formatTokenAmount('1234567899', 6, 'USDC', { locale: 'en-US' }),
    );
    expect(dashboardFormat('12500000', 6, 'USDC')).toBe(
      formatTokenAmount('12500000', 6, 'USDC', { maxFraction: 2 }),
    );
  });
});

describe('parseTokenAmount', () => {
  it('reads decimal text into the smallest unit', () => {
    expect(parseTokenAmount('12.5', 6)).toBe(12_500_000n);
    expect(parseTokenAmount(' 0.000001 ', 6)).toBe(1n);
    expect(parseTokenAmount('.5', 6)).toBe(500_000n);
    expect(parseTokenAmount('7.', 6)).toBe(7_000_000n);
    expect(parseTokenAmount('3', 0)).toBe(3n);
  });

  it('refuses what is not an amount with INVALID_PARAMS', () => {
    for (const bad of ['', '.', '-1', '1e6', '1,000', 'abc', '1.2.3', '0x10', '1.0000001']) {
      expect(
        codeOf(() => parseTokenAmount(bad, 6)),
        bad,
      ).toBe('INVALID_PARAMS');
    }
    expect(codeOf(() => parseTokenAmount('1.5', 0))).toBe('INVALID_PARAMS');
  });

  it('round-trips with the formatter at full precision', () => {
    fc.assert(
      fc.property(fc.bigInt(0n, 10n ** 40n), fc.integer({ min: 0, max: 24 }), (units, decimals) => {
        const text = formatTokenAmount(units, decimals, '', {
          locale: 'en-US',
          maxFraction: decimals,
        });
        if (text.startsWith('<')) return; // only for maxFraction 0 and no whole part: not reached
        expect(parseTokenAmount(text.replace(/,/g, ''), decimals)).toBe(units);
      }),
    );
  });
});

describe('voucher wire form', () => {
  const v = { payer: A, provider: B, token: T, epoch: 3, cumulative: 10n ** 30n, signature: SIG };

  it('round-trips, amounts as decimal strings', () => {
    const wire = voucherToWire(v, 31337n, H);
    expect(wire.cumulative).toBe('1000000000000000000000000000000');
    expect(JSON.parse(JSON.stringify(wire))).toEqual(wire);
    expect(voucherFromWire(wire)).toEqual({ chainId: 31337, hub: H, voucher: v });
  });

  it('refuses malformed vouchers, saying which field', () => {
    const wire = voucherToWire(v, 31337n, H);
    for (const [field, value] of [
      ['cumulative', '-5'],
      ['cumulative', '01'],
      ['signature', '0x' + 'ab'.repeat(64)],
      ['payer', 'alice'],
      ['epoch', 2 ** 32],
      ['chainId', 0],
    ] as const) {
      try {
        voucherFromWire({ ...wire, [field]: value });
        expect.unreachable(field);
      } catch (err) {
        expect((err as IdlerigError).code).toBe('INVALID_PARAMS');
        expect((err as IdlerigError).message).toContain(field);
      }
    }
    expect(codeOf(() => hubDomain(1, 'nope'))).toBe('INVALID_PARAMS');
  });

  it('claimableFrom follows the hub rule: capped by the lock, nothing for another epoch', () => {
    const ch = { deposited: 100n, claimed: 30n, epoch: 2, unlockAt: 0 };
    expect(claimableFrom(ch, { epoch: 2, cumulative: 70n })).toBe(40n);
    expect(claimableFrom(ch, { epoch: 2, cumulative: 500n })).toBe(70n);
    expect(claimableFrom(ch, { epoch: 2, cumulative: 20n })).toBe(0n);
    expect(claimableFrom(ch, { epoch: 1, cumulative: 70n })).toBe(0n);
  });
});

describe('HUB_PROVIDER_ABI', () => {
  it('matches the compiled PaymentHub, entry by entry', () => {
    const compiled = new Interface(PaymentHub.abi);
    const ours = new Interface(HUB_PROVIDER_ABI);
    ours.forEachFunction((f) => {
      const c = compiled.getFunction(f.selector);
      expect(c?.format('minimal'), f.name).toBe(f.format('minimal'));
    });
    ours.forEachEvent((e) => {
      expect(compiled.getEvent(e.topicHash)?.format('minimal'), e.name).toBe(e.format('minimal'));
    });
    ours.forEachError((e) => {
      expect(compiled.getError(e.selector)?.format('sighash'), e.name).toBe(e.format('sighash'));
    });
  });
});
