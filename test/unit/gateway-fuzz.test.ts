// A real gateway process fed more than 10,000 malformed, unknown, wrong-version, wrong-time and
// oversized provider frames over real WebSockets: every bad frame is answered with a typed
// protocol_error (or, past the cap, a clean close), the process never crashes, its memory stays
// bounded (its own /metrics), and a well-behaved provider logs in and is served afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Wallet } from 'ethers';
import { MAX_FRAME_BYTES } from '../../shared/market-protocol';
import { RawProvider } from '../helpers/gateway-ws';
import { createKey, startGatewayProc, tempDir, type GatewayProc } from '../helpers/gateway';

let gw: GatewayProc;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  const d = await tempDir();
  cleanup = d.cleanup;
  gw = await startGatewayProc(d.dir);
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  await cleanup?.();
});

async function rss(): Promise<number> {
  const m = await (await fetch(`${gw.url}/metrics`)).text();
  return Number(/^process_resident_memory_bytes (\d+)/m.exec(m)![1]);
}

/** Bad frames of every kind (each must get a protocol_error while the session is logged in). */
function badFrames(n: number, seed: number): string[] {
  const valid = { v: 1, type: 'chunk', jobId: 'j', seq: 0, text: 'x', tokens: 1 };
  const arb = fc.oneof(
    fc.string({ maxLength: 200 }).filter((s) => {
      try {
        JSON.parse(s);
        return false;
      } catch {
        return true;
      }
    }),
    fc
      .jsonValue()
      .filter((v) => typeof v !== 'object' || v === null || Array.isArray(v))
      .map((v) => JSON.stringify(v)),
    fc
      .record({ v: fc.integer({ min: 2, max: 9 }), type: fc.constant('heartbeat') })
      .map((o) => JSON.stringify(o)),
    fc
      .string({ minLength: 1, maxLength: 30 })
      .filter(
        (t) =>
          ![
            'login',
            'capabilities',
            'heartbeat',
            'away_report',
            'accept',
            'decline',
            'chunk',
            'done',
            'error',
            'pause',
            'resume',
            'protocol_error',
          ].includes(t),
      )
      .map((type) => JSON.stringify({ v: 1, type })),
    fc
      .constantFrom('capabilities', 'heartbeat', 'done', 'decline', 'error', 'chunk', 'away_report')
      .chain((type) =>
        fc
          .dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 4 })
          .map((extra) => JSON.stringify({ ...extra, v: 1, type })),
      ),
    fc.constantFrom('seq', 'tokens', 'text', 'jobId').chain((k) =>
      fc
        .jsonValue({ maxDepth: 1 })
        .filter((x) => typeof x !== (k === 'text' || k === 'jobId' ? 'string' : 'number'))
        .map((x) => JSON.stringify({ ...valid, [k]: x })),
    ),
    fc.constant(
      JSON.stringify({
        v: 1,
        type: 'login',
        message: 'x',
        signature: `0x${'00'.repeat(65)}`,
        client: { name: 'a', version: '1' },
      }),
    ),
  );
  return fc.sample(arb, { numRuns: n, seed });
}

describe('fuzzing the provider socket', () => {
  it('10,000+ bad frames: typed protocol errors, no crash, bounded memory, and the gateway still serves', async () => {
    const before = await rss();
    let sent = 0;
    let answered = 0;
    // Logged-in sessions: 900 bad frames each, under the per-minute error budget.
    for (let s = 0; s < 10; s++) {
      const p = new RawProvider(gw.url);
      expect(await p.login(Wallet.createRandom())).toMatchObject({ type: 'login_ok' });
      const frames = badFrames(900, 1000 + s);
      for (const f of frames) p.sendRaw(f);
      sent += frames.length;
      p.sendRaw(Buffer.from([0xff, 0x00, 0x13]));
      sent++;
      await expect
        .poll(() => p.frames.filter((f) => f.type === 'protocol_error').length, { timeout: 20_000 })
        .toBe(901);
      const errors = p.frames.filter((f) => f.type === 'protocol_error');
      answered += errors.length;
      expect(
        errors.every((e) => e.type === 'protocol_error' && !e.fatal && e.message.length > 0),
      ).toBe(true);
      expect(new Set(errors.map((e) => (e as { code: string }).code))).toEqual(
        new Set(['MALFORMED', 'UNKNOWN_TYPE', 'BAD_VERSION', 'UNEXPECTED']),
      );
      p.close();
      await p.closed;
    }
    // Before login, any bad frame closes the connection cleanly.
    for (let i = 0; i < 300; i++) {
      const p = new RawProvider(gw.url);
      await p.next('hello');
      p.sendRaw(badFrames(1, i)[0]!);
      sent++;
      // A login-shaped frame is refused as a login; anything else is a fatal protocol error.
      const e = await p.firstOf(['protocol_error', 'login_refused']);
      if (e.type === 'protocol_error') expect(e.fatal).toBe(true);
      answered++;
      expect((await p.closed).code).toBe(1008);
    }
    // Past the error budget a logged-in session is closed, not kept spinning.
    const flood = new RawProvider(gw.url);
    await flood.login(Wallet.createRandom());
    for (const f of badFrames(1100, 7)) flood.sendRaw(f);
    sent += 1100;
    expect((await flood.closed).code).toBe(1008);
    expect(flood.frames.some((f) => f.type === 'protocol_error' && f.fatal)).toBe(true);
    // Oversized frames: the socket is closed with 1009 before the frame is buffered whole.
    const big = 'x'.repeat(MAX_FRAME_BYTES + 1);
    for (let i = 0; i < 8; i++) {
      const p = new RawProvider(gw.url);
      await p.login(Wallet.createRandom());
      p.sendRaw(big);
      sent++;
      expect((await p.closed).code).toBe(1009);
    }
    expect(sent).toBeGreaterThanOrEqual(10_000);
    expect(answered).toBeGreaterThanOrEqual(9_300);
    // Still alive and serving: a good provider logs in and its model is listed.
    const health = await fetch(`${gw.url}/health`);
    expect(await health.json()).toEqual({ ok: true, providers: 0 });
    const good = new RawProvider(gw.url);
    expect(await good.login(Wallet.createRandom())).toMatchObject({ type: 'login_ok' });
    good.send({
      type: 'capabilities',
      models: [
        {
          sha256: 'b'.repeat(64),
          name: 'after-fuzz',
          kind: 'llm',
          floor: { per: 'mtok', input: '1', output: '1' },
        },
      ],
      parallelism: 1,
      gpus: [],
    });
    const key = await createKey(gw.dataDir, ['--credit', '1']);
    await expect
      .poll(async () => {
        const r = await fetch(`${gw.url}/v1/models`, {
          headers: { authorization: `Bearer ${key}` },
        });
        return ((await r.json()) as { data: { id: string }[] }).data.map((m) => m.id);
      })
      .toEqual(['after-fuzz']);
    good.close();
    // Memory: the sessions are gone and the process holds about what it held before.
    const after = await rss();
    expect(after - before).toBeLessThan(96 * 1024 * 1024);
    expect(gw.child.exitCode).toBeNull();
  }, 240_000);
});
