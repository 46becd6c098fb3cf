// The gas goals, asserted: gas is deterministic for fixed sources, compiler settings and
// hardfork, so this is not a timing test. The full per-operation report is `npm run bench -- gas`.
import { describe, expect, it } from 'vitest';
import { GAS_GOALS, measureGas } from '../../contracts/gas-report';

describe('PaymentHub gas', () => {
  it('a steady-state claim and each extra channel of claimBatch stay within the goals', async () => {
    const r = await measureGas();
    expect(r.claimSteadyState).toBeLessThanOrEqual(BigInt(GAS_GOALS.claimSteadyState));
    expect(r.claimBatchPerExtraChannel).toBeLessThanOrEqual(
      BigInt(GAS_GOALS.claimBatchPerExtraChannel),
    );
    // A batch of one costs about a claim, and every extra channel costs the same.
    const b = r.claimBatch;
    const steps = [2, 3, 4, 5].map((n) => b[String(n)]! - b[String(n - 1)]!);
    for (const s of steps)
      expect(s).toBeLessThanOrEqual(BigInt(GAS_GOALS.claimBatchPerExtraChannel));
    // A stale voucher costs less than a paying one: it transfers nothing.
    expect(r.claimStale).toBeLessThan(r.claimSteadyState);
  });
});
