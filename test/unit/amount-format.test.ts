// The dashboard's amounts: never a negative zero (a node with only test or unpaid jobs has a tiny
// negative net after electricity, shown as "-0.000 EUR"), and the earnings chart's token axis
// readable at any magnitude (every tick read "−< 0.0001", cut off and identical).
import { describe, expect, it } from 'vitest';
import { money } from '../../renderer/src/components/power/energy-format';
import { tokenTickFormatter } from '../../renderer/src/components/jobs/earnings-series';

describe('money', () => {
  it('never writes a negative zero', () => {
    expect(money(-0.0001, 'EUR')).toBe('0.000 EUR');
    expect(money(-0.0004999, 'EUR')).toBe('0.000 EUR');
    expect(money(-0, 'EUR')).toBe('0.000 EUR');
    expect(money(-0.002, 'EUR')).toBe('-0.002 EUR');
    expect(money(-1.5, 'EUR')).toBe('-1.50 EUR');
    expect(money(0.0001, 'EUR')).toBe('0.000 EUR');
  });
});

describe('tokenTickFormatter', () => {
  it('gives tiny negative values distinct, short ticks', () => {
    const values = [0, -0.000004, -0.000012, -0.000021];
    const tick = tokenTickFormatter(values, 18);
    const ticks = [0, -0.000005, -0.00001, -0.000015, -0.00002, -0.000025].map(tick);
    expect(ticks).toEqual(['0', '−0.000005', '−0.00001', '−0.000015', '−0.00002', '−0.000025']);
    for (const t of ticks) {
      expect(t).not.toContain('<');
      expect(t.length).toBeLessThanOrEqual(10);
    }
  });

  it('says 0 for negligible values, never −0', () => {
    const tick = tokenTickFormatter([-1e-15, -3e-15], 18);
    expect([-1e-15, -2e-15, 0].map(tick)).toEqual(['0', '0', '0']);
  });

  it('keeps ordinary amounts as before', () => {
    const tick = tokenTickFormatter([0, 1.5, 12], 18);
    expect([0, 2.5, 10, -0.5].map(tick)).toEqual(['0', '2.5', '10', '−0.5']);
  });
});
