// Gas per PaymentHub operation on anvil, against issue 12's goals: a steady-state claim
// ≤ 60,000 gas, claimBatch ≤ 35,000 gas per extra channel. Gas does not depend on the machine's
// load (the figures are deterministic); the machine is printed as for every benchmark.
import { machine } from './_machine';
import { GAS_GOALS, measureGas } from '../contracts/gas-report';
import { COMPILER_SETTINGS, SOLC_VERSION } from '../contracts/build';

const report = await measureGas();
const num = (v: bigint): number => Number(v);
const ratio = (v: bigint, goal: number): number => Number((Number(v) / goal).toFixed(3));
console.log(
  JSON.stringify(
    {
      benchmark: 'contracts-gas',
      machine: machine(),
      compiler: { solc: SOLC_VERSION, ...COMPILER_SETTINGS },
      gas: Object.fromEntries(
        Object.entries(report).map(([k, v]: [string, bigint | Record<string, bigint>]) => [
          k,
          typeof v === 'bigint'
            ? num(v)
            : Object.fromEntries(Object.entries(v).map(([n, g]) => [n, num(g)])),
        ]),
      ),
      goals: GAS_GOALS,
      ratioToGoal: {
        claimSteadyState: ratio(report.claimSteadyState, GAS_GOALS.claimSteadyState),
        claimBatchPerExtraChannel: ratio(
          report.claimBatchPerExtraChannel,
          GAS_GOALS.claimBatchPerExtraChannel,
        ),
      },
      pass:
        report.claimSteadyState <= BigInt(GAS_GOALS.claimSteadyState) &&
        report.claimBatchPerExtraChannel <= BigInt(GAS_GOALS.claimBatchPerExtraChannel),
    },
    null,
    2,
  ),
);
