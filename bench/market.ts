// `npm run bench -- market`: the market path's speed and the gateway's capacity.
//
// End to end: stories260K 256-token greedy streams, openai client -> gateway process -> provider
// process -> engine process, against the engine alone (supervisor in this process) and against
// node-llama-cpp in this process with the engine's threads. Two providers, each behind its own
// gateway: the REAL provider node (bench/_market-node.ts: ProviderNode with its market client,
// job record and energy ledger; the goals are judged on it) and the lean test provider
// (test/helpers/gateway-provider.ts: the wire protocol and the engine, nothing else). Runs
// alternate between the four and a fifth side, the openai SDK's own time to first chunk against
// a local server that answers at once (sdk_floor_ms: part of every gateway figure and of none of
// the others); medians. Decode tokens/s is what the caller receives after its first chunk.
//
// Capacity: 1,000 simulated providers (stub engines answering at once) logged in to a gateway
// process, beside (a) a bare relay (node:http in, ws out to the same stubs: no auth, matching or
// ledger) and (b) Portkey's open-source gateway proxying to an OpenAI-shaped stub, all in the same
// run: jobs/s closed-loop, latency at a fixed 1,000 jobs/s (process.hrtime), and the gateway's
// memory per connected provider (its resident set before and after the providers log in).
// The capacity gateway does not check receipt signatures: the stubs do not sign (a signature
// costs ~5 ms of CPU here); the gateway recovers them off the request path (gateway/receipts.ts)
// and that cost is measured on its own (receipt_verify_ms).
//
// The load average before and after is printed with the figures, `foreign_cpu_cores` the CPU
// that processes outside this benchmark used meanwhile, and `disturbed` says whether that was
// more than a quarter of a core (other work shared the cores with the gateway, the stubs and the
// load, so rates are low and latencies high).
import os from 'node:os';
import { capacity, receiptCost } from './_market-capacity';
import { endToEnd } from './_market-e2e';
import { foreignCpu, machine } from './_machine';
import { r1 } from './_stats';

const env = process.env;
const load = (): number[] => os.loadavg().map(r1);

const loadBefore = load();
const meter = foreignCpu();
const only = env.BENCH_MARKET_ONLY;
const e2e = only === 'capacity' ? null : await endToEnd();
const cap = only === 'e2e' ? null : await capacity();
const verify = await receiptCost();
const loadAfter = load();
const foreign = meter.stop();
const result = {
  benchmark: 'market',
  machine: machine(),
  load_average: { before: loadBefore, after: loadAfter },
  // CPU other processes used during the run, in cores: disturbed past a quarter of a core. (The
  // load average also counts this benchmark's own processes; it is the rule only off Linux.)
  foreign_cpu_cores: foreign?.cores ?? null,
  disturbed: foreign
    ? foreign.cores > 0.25
    : Math.max(loadBefore[0]!, loadAfter[0]!) > os.cpus().length / 2,
  end_to_end: e2e,
  capacity: cap,
  receipt_verify_ms: verify,
  goals: {
    decode_vs_direct_ge_0_9: e2e ? e2e.ratios.gateway_vs_direct_decode >= 0.9 : null,
    ttft_added_le_3ms: e2e ? e2e.ratios.gateway_ttft_added_vs_direct_ms <= 3 : null,
    jobs_per_s_ge_5000: cap ? (cap.closed_loop.idlerig?.jobs_per_s ?? 0) >= 5000 : null,
    ge_half_of_relay: cap ? cap.ratio_vs_relay >= 0.5 : null,
    added_p50_lt_0_5ms: cap ? cap.idlerig_added_latency_vs_relay_ms.p50 < 0.5 : null,
    added_p99_lt_2ms: cap ? cap.idlerig_added_latency_vs_relay_ms.p99 < 2 : null,
    memory_per_provider_lt_50kb: cap ? cap.memory.gateway_kb_per_provider < 50 : null,
  },
};
console.log(JSON.stringify(result, null, 2));
process.exit(0);
