// The hand-written fast path for accept / chunk / done frames (shared/frame-fast.ts) against the
// zod schema it stands in for: whatever the fast path accepts, zod accepts with the same value;
// valid frames of the three types do take the fast path; and a frame it refuses still parses
// through parseProviderFrame exactly as zod says.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fastProviderFrame } from '../../shared/frame-fast';
import {
  MARKET_PROTOCOL_VERSION as V,
  ProviderFrameSchema,
  parseProviderFrame,
} from '../../shared/market-protocol';

const hex = (n: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
const count = fc.oneof(fc.nat(), fc.constant(Number.MAX_SAFE_INTEGER));
const jobId = fc.string({ minLength: 1, maxLength: 128 });

const receipt = fc.record({
  jobId,
  modelSha256: hex(64),
  inputSha256: hex(64),
  outputSha256: hex(64),
  tokensIn: count,
  tokensOut: count,
  price: fc.bigInt({ min: 0n, max: 10n ** 30n }).map(String),
  gateway: fc.string({ minLength: 1, maxLength: 2048 }),
  signature: hex(130).map((h) => `0x${h}`),
});

const valid = fc.oneof(
  fc.record({ v: fc.constant(V), type: fc.constant('accept'), jobId }),
  fc.record({
    v: fc.constant(V),
    type: fc.constant('chunk'),
    jobId,
    seq: count,
    text: fc.string(),
    tokens: count,
  }),
  fc.record({
    v: fc.constant(V),
    type: fc.constant('done'),
    jobId,
    finishReason: fc.constantFrom('stop', 'length', 'cancelled'),
    usage: fc.record({ tokensIn: count, tokensOut: count }),
    timings: fc.record({
      ttftMs: fc.option(fc.double({ min: 0, noNaN: true, noDefaultInfinity: true })),
      durationMs: fc.double({ min: 0, noNaN: true, noDefaultInfinity: true }),
    }),
    outputSha256: hex(64),
    receipt,
  }),
);

/** Strange values to put anywhere: wrong types, boundaries either side, non-finite numbers. */
const odd = fc.oneof(
  fc.constantFrom(
    null,
    undefined,
    -1,
    -0,
    0.5,
    1e21,
    Number.MAX_SAFE_INTEGER + 1,
    Infinity,
    -Infinity,
    NaN,
    '',
    'x'.repeat(129),
    'x'.repeat(2049),
    'STOP',
    '01',
    '0x',
    'A'.repeat(64),
    [],
    {},
    true,
  ),
  fc.jsonValue(),
);

/** Replace, delete or add one value somewhere in the frame (nested objects included). */
function mutate(frame: Record<string, unknown>, pathPick: number, how: number, value: unknown) {
  const copy = structuredClone(frame);
  const holders: Record<string, unknown>[] = [copy];
  for (const v of Object.values(copy)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) holders.push(v as Record<string, unknown>);
  }
  const holder = holders[pathPick % holders.length]!;
  const ks = Object.keys(holder);
  const k = ks[pathPick % ks.length]!;
  if (how === 0) holder[k] = value;
  else if (how === 1) delete holder[k];
  else holder[`extra${pathPick}`] = value;
  return copy;
}

describe('provider frames: the fast path and zod agree', () => {
  it('every valid accept, chunk and LLM done frame takes the fast path, as the same value zod gives', () => {
    fc.assert(
      fc.property(valid, (f) => {
        const fast = fastProviderFrame(f, V);
        expect(fast).not.toBeNull();
        const z = ProviderFrameSchema.safeParse(f);
        expect(z.success).toBe(true);
        expect(fast).toEqual(z.data);
        // And through the real parser, from the wire text.
        const p = parseProviderFrame(JSON.stringify(f));
        expect(p).toEqual({ ok: true, frame: z.data });
      }),
      { numRuns: 2000 },
    );
  });

  it('a mutated frame is accepted by the fast path only if zod accepts it too (same value)', () => {
    let fastTaken = 0;
    let refused = 0;
    fc.assert(
      fc.property(valid, fc.nat(), fc.integer({ min: 0, max: 2 }), odd, (f, pick, how, value) => {
        const m = JSON.parse(JSON.stringify(mutate(f, pick, how, value)) ?? 'null') as Record<
          string,
          unknown
        >;
        if (!m || typeof m !== 'object') return;
        const fast = fastProviderFrame(m, V);
        const z = ProviderFrameSchema.safeParse(m);
        if (fast) {
          fastTaken++;
          expect(z.success).toBe(true);
          expect(fast).toEqual(z.data);
        }
        if (!z.success) refused++;
        // Whatever the path, the parser's answer is zod's.
        const p = parseProviderFrame(JSON.stringify(m));
        expect(p.ok).toBe(z.success);
        if (p.ok) expect(p.frame).toEqual(z.data);
      }),
      { numRuns: 5000 },
    );
    // The generator must exercise both sides, or this test would prove nothing.
    expect(fastTaken).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(1000);
  });

  it('a done frame with tensor outputs, another version or another type goes to zod', () => {
    const done = {
      v: V,
      type: 'done',
      jobId: 'j',
      finishReason: 'stop',
      usage: { tokensIn: 0, tokensOut: 0 },
      timings: { ttftMs: null, durationMs: 1 },
      outputSha256: '0'.repeat(64),
      receipt: {
        jobId: 'j',
        modelSha256: '0'.repeat(64),
        inputSha256: '0'.repeat(64),
        outputSha256: '0'.repeat(64),
        tokensIn: 0,
        tokensOut: 0,
        price: '1',
        gateway: 'http://127.0.0.1:1',
        signature: `0x${'0'.repeat(130)}`,
      },
    };
    expect(fastProviderFrame(done, V)).toBe(done);
    expect(fastProviderFrame({ ...done, outputs: [] }, V)).toBeNull();
    expect(fastProviderFrame({ ...done, v: V + 1 }, V)).toBeNull();
    expect(fastProviderFrame({ v: V, type: 'heartbeat', t: 1, telemetry: {} }, V)).toBeNull();
  });
});
