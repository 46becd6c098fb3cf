// A fast path for the three provider frames every job sends (accept, chunk, done): checks written
// out by hand that accept exactly what ProviderFrameSchema accepts for them, with nothing extra,
// so the parsed JSON object can be returned as it is. Anything else — another frame type, a key
// the schema does not know, a tensor job's outputs, any value the checks here are unsure of —
// returns null and goes through zod, which stays the definition and gives the error messages.
//
// Why by hand: zod allocates a result object and a payload with an issues array per field, about
// 7 KB of garbage per job for these three frames; at thousands of jobs a second the gateway's
// young-generation collections (2–9 ms pauses) and their helper threads were a fifth of its CPU.
//
// The rule for whoever changes the schema: this may only ever accept LESS than the schema
// (a frame it refuses is parsed by zod, so refusing is always safe). Tightening a field in
// market-protocol.ts or receipt.ts means tightening it here too; test/unit/frame-fast.test.ts
// compares the two on generated frames and fails when this accepts what zod refuses.
import type { ProviderFrame } from './market-protocol';

const HEX64 = /^[0-9a-f]{64}$/;
const SIGNATURE = /^0x[0-9a-fA-F]{130}$/;
const DECIMAL = /^(0|[1-9]\d{0,77})$/;

type Obj = Record<string, unknown>;

const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x);
/** Exactly these many own keys (each one then checked by name: none missing, none extra). */
const keys = (o: Obj, n: number): boolean => Object.keys(o).length === n;
const count = (x: unknown): boolean => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const nonNegative = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x) && x >= 0;
const text = (x: unknown, min: number, max: number): boolean =>
  typeof x === 'string' && x.length >= min && x.length <= max;
const jobId = (x: unknown): boolean => text(x, 1, 128);
const hex64 = (x: unknown): boolean => typeof x === 'string' && HEX64.test(x);

function usage(u: unknown): boolean {
  return isObj(u) && keys(u, 2) && count(u.tokensIn) && count(u.tokensOut);
}

function timings(t: unknown): boolean {
  return (
    isObj(t) &&
    keys(t, 2) &&
    (t.ttftMs === null || nonNegative(t.ttftMs)) &&
    nonNegative(t.durationMs)
  );
}

function receipt(r: unknown): boolean {
  return (
    isObj(r) &&
    keys(r, 9) &&
    jobId(r.jobId) &&
    hex64(r.modelSha256) &&
    hex64(r.inputSha256) &&
    hex64(r.outputSha256) &&
    count(r.tokensIn) &&
    count(r.tokensOut) &&
    typeof r.price === 'string' &&
    DECIMAL.test(r.price) &&
    text(r.gateway, 1, 2048) &&
    typeof r.signature === 'string' &&
    SIGNATURE.test(r.signature)
  );
}

/**
 * The frame itself when it is a valid accept, chunk or LLM done frame of protocol version
 * `version` with no unknown keys; otherwise null (then parse it with zod).
 */
export function fastProviderFrame(f: Obj, version: number): ProviderFrame | null {
  if (f.v !== version) return null;
  switch (f.type) {
    case 'accept':
      return keys(f, 3) && jobId(f.jobId) ? (f as ProviderFrame) : null;
    case 'chunk':
      return keys(f, 6) &&
        jobId(f.jobId) &&
        count(f.seq) &&
        typeof f.text === 'string' &&
        count(f.tokens)
        ? (f as ProviderFrame)
        : null;
    case 'done':
      return keys(f, 8) &&
        jobId(f.jobId) &&
        (f.finishReason === 'stop' ||
          f.finishReason === 'length' ||
          f.finishReason === 'cancelled') &&
        usage(f.usage) &&
        timings(f.timings) &&
        hex64(f.outputSha256) &&
        receipt(f.receipt)
        ? (f as ProviderFrame)
        : null;
    default:
      return null;
  }
}
