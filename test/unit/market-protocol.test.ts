// The market wire protocol (shared/market-protocol.ts), its EIP-4361 login text (shared/siwe.ts)
// and the EIP-712 receipt (shared/receipt.ts), checked with real ethers signatures.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Wallet, verifyMessage, verifyTypedData } from 'ethers';
import {
  MAX_FRAME_BYTES,
  canonicalJson,
  encodeFrame,
  gatewayWsUrl,
  parseGatewayFrame,
  parseProviderFrame,
} from '../../shared/market-protocol';
import {
  buildSiweMessage,
  checkSiweMessage,
  parseSiweMessage,
  type SiweMessage,
} from '../../shared/siwe';
import {
  RECEIPT_TYPES,
  chargeFor,
  receiptDomain,
  receiptValue,
  type Receipt,
} from '../../shared/receipt';

const wallet = Wallet.createRandom();
const now = Date.parse('2026-12-01T10:00:00Z');
const siwe = (over: Partial<SiweMessage> = {}): SiweMessage => ({
  domain: '127.0.0.1:8080',
  address: wallet.address,
  statement: 'Idlerig provider login',
  uri: 'http://127.0.0.1:8080',
  version: '1',
  chainId: 31337,
  nonce: 'a1b2c3d4e5f60718',
  issuedAt: new Date(now).toISOString(),
  expirationTime: new Date(now + 60_000).toISOString(),
  ...over,
});
const expected = {
  origin: 'http://127.0.0.1:8080',
  chainId: 31337,
  nonce: 'a1b2c3d4e5f60718',
  nowMs: now,
};

describe('EIP-4361 login message', () => {
  it('builds the standard text, parses back to the same fields, and its signature recovers the address', async () => {
    const m = siwe({ requestId: 'r1', resources: ['https://a.example/x'] });
    const text = buildSiweMessage(m);
    expect(text.split('\n').slice(0, 7)).toEqual([
      '127.0.0.1:8080 wants you to sign in with your Ethereum account:',
      wallet.address,
      '',
      'Idlerig provider login',
      '',
      'URI: http://127.0.0.1:8080',
      'Version: 1',
    ]);
    const parsed = parseSiweMessage(text);
    expect(parsed).toEqual({ ok: true, message: m });
    expect(verifyMessage(text, await wallet.signMessage(text))).toBe(wallet.address);
    // Without a statement (the ABNF's optional line) it round-trips too.
    const bare = siwe({ statement: undefined });
    delete bare.statement;
    expect(parseSiweMessage(buildSiweMessage(bare))).toEqual({ ok: true, message: bare });
  });

  it('refuses wrong domain, chain, nonce, an expired or expiry-less message, and one from the future', () => {
    expect(checkSiweMessage(siwe(), expected)).toBeNull();
    expect(checkSiweMessage(siwe({ uri: 'http://evil.example' }), expected)).toBe('WRONG_DOMAIN');
    expect(checkSiweMessage(siwe({ domain: 'evil.example' }), expected)).toBe('WRONG_DOMAIN');
    expect(checkSiweMessage(siwe({ chainId: 1 }), expected)).toBe('WRONG_CHAIN');
    expect(checkSiweMessage(siwe({ nonce: 'zzzzzzzzzzzz' }), expected)).toBe('WRONG_NONCE');
    expect(
      checkSiweMessage(siwe({ expirationTime: new Date(now - 1).toISOString() }), expected),
    ).toBe('EXPIRED');
    const noExpiry = siwe();
    delete noExpiry.expirationTime;
    expect(checkSiweMessage(noExpiry, expected)).toBe('EXPIRED');
    expect(
      checkSiweMessage(siwe({ issuedAt: new Date(now + 3_600_000).toISOString() }), expected),
    ).toBe('NOT_YET_VALID');
  });

  it('parsing never throws and says why a text is not a login message', () => {
    for (const bad of [
      '',
      'hello',
      buildSiweMessage(siwe()).replace('Version: 1', 'Version: 2'),
      buildSiweMessage(siwe()).replace(wallet.address, '0x12'),
    ]) {
      const r = parseSiweMessage(bad);
      expect(r.ok).toBe(false);
    }
    fc.assert(
      fc.property(
        fc.string({ maxLength: 400 }),
        (s) => typeof parseSiweMessage(s).ok === 'boolean',
      ),
    );
  });
});

describe('frames', () => {
  const receipt: Receipt = {
    jobId: 'job-1',
    modelSha256: 'a'.repeat(64),
    inputSha256: 'b'.repeat(64),
    outputSha256: 'c'.repeat(64),
    tokensIn: 7,
    tokensOut: 32,
    price: '97',
    gateway: 'http://127.0.0.1:8080',
  };

  it('every provider and gateway frame type round-trips through encode and parse', async () => {
    const signature = await wallet.signTypedData(
      receiptDomain(31337),
      RECEIPT_TYPES as never,
      receiptValue(receipt),
    );
    const provider = [
      {
        type: 'login',
        message: buildSiweMessage(siwe()),
        signature,
        client: { name: 'x', version: '1' },
      },
      {
        type: 'capabilities',
        models: [
          {
            sha256: 'a'.repeat(64),
            name: 'stories260K',
            kind: 'llm',
            floor: { per: 'mtok', input: '1', output: '2' },
          },
        ],
        parallelism: 4,
        gpus: [{ name: 'RTX', vendor: 'nvidia', vramBytes: 8e9 }],
      },
      { type: 'heartbeat', t: 1, telemetry: { activeJobs: 0, gpus: [] } },
      { type: 'accept', jobId: 'j' },
      { type: 'decline', jobId: 'j', reason: 'PRICE_BELOW_FLOOR', message: 'too cheap' },
      { type: 'chunk', jobId: 'j', seq: 0, text: 'Hi', tokens: 1 },
      {
        type: 'done',
        jobId: 'j',
        finishReason: 'length',
        usage: { tokensIn: 7, tokensOut: 32 },
        timings: { ttftMs: 3, durationMs: 40 },
        outputSha256: 'c'.repeat(64),
        receipt: { ...receipt, signature },
      },
      { type: 'error', jobId: 'j', code: 'ENGINE_CRASHED', message: 'gone', tokensSent: true },
      { type: 'pause', reason: 'Too hot' },
      { type: 'resume' },
      {
        type: 'away_report',
        jobs: [{ jobId: 'j', outcome: 'done', usage: { tokensIn: 1, tokensOut: 2 } }],
      },
    ] as const;
    for (const f of provider) {
      const r = parseProviderFrame(encodeFrame(f as never));
      expect(r, f.type).toEqual({ ok: true, frame: { v: 1, ...f } });
    }
    const gateway = [
      {
        type: 'hello',
        nonce: 'a1b2c3d4e5f60718',
        origin: 'http://127.0.0.1:8080',
        chainId: 31337,
        expiresAt: new Date(now).toISOString(),
        heartbeatMs: 5000,
        maxFrameBytes: MAX_FRAME_BYTES,
        gateway: { name: 'g', version: '1' },
      },
      {
        type: 'offer',
        jobId: 'j',
        modelSha256: 'a'.repeat(64),
        kind: 'completion',
        price: { per: 'mtok', input: '1', output: '2' },
        maxTokens: 32,
        deadline: now,
        input: {
          kind: 'completion',
          prompt: 'Once upon a time',
          sampling: { max_tokens: 32, temperature: 0 },
        },
      },
      {
        type: 'input',
        jobId: 'j',
        body: {
          kind: 'tensor',
          inputs: [{ name: 'x', datatype: 'FP32', shape: [1], b64: 'AAAAAA==' }],
        },
      },
      { type: 'cancel', jobId: 'j', reason: 'CLIENT_GONE' },
      { type: 'login_refused', code: 'NONCE_REPLAYED', message: 'used' },
    ] as const;
    for (const f of gateway) {
      expect(parseGatewayFrame(encodeFrame(f as never)), f.type).toEqual({
        ok: true,
        frame: { v: 1, ...f },
      });
    }
  });

  it('malformed, unknown, wrong-version and oversized frames give typed errors, never a throw', () => {
    expect(parseProviderFrame('{')).toMatchObject({ ok: false, code: 'MALFORMED' });
    expect(parseProviderFrame('[1]')).toMatchObject({ ok: false, code: 'MALFORMED' });
    expect(parseProviderFrame('{"v":1,"type":"nope"}')).toMatchObject({
      ok: false,
      code: 'UNKNOWN_TYPE',
    });
    expect(parseProviderFrame('{"v":2,"type":"accept","jobId":"j"}')).toMatchObject({
      ok: false,
      code: 'BAD_VERSION',
    });
    expect(parseProviderFrame('{"v":1,"type":"accept"}')).toMatchObject({
      ok: false,
      code: 'MALFORMED',
      message: expect.stringContaining('jobId'),
    });
    expect(
      parseProviderFrame(`{"v":1,"type":"accept","jobId":"${'é'.repeat(600)}"}`, 1000),
    ).toMatchObject({ ok: false, code: 'TOO_LARGE' });
    expect(parseProviderFrame(new Uint8Array(2000), 1000)).toMatchObject({
      ok: false,
      code: 'TOO_LARGE',
    });
    expect(parseProviderFrame(42)).toMatchObject({ ok: false, code: 'MALFORMED' });
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.jsonValue().map((v) => JSON.stringify({ v: 1, type: 'done', x: v })),
        ),
        (s) => {
          const a = parseProviderFrame(s);
          const b = parseGatewayFrame(s);
          return typeof a.ok === 'boolean' && typeof b.ok === 'boolean';
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('receipt', () => {
  it('an EIP-712 receipt signed by the node key verifies to its address; a changed field does not', async () => {
    const r: Receipt = {
      jobId: 'job-1',
      modelSha256: 'a'.repeat(64),
      inputSha256: 'b'.repeat(64),
      outputSha256: 'c'.repeat(64),
      tokensIn: 7,
      tokensOut: 32,
      price: chargeFor(
        { per: 'mtok', input: '1000000', output: '3000000' },
        { tokensIn: 7, tokensOut: 32 },
      ).toString(),
      gateway: 'http://127.0.0.1:8080',
    };
    expect(r.price).toBe('103');
    const sig = await wallet.signTypedData(
      receiptDomain(31337),
      RECEIPT_TYPES as never,
      receiptValue(r),
    );
    expect(
      verifyTypedData(receiptDomain(31337), RECEIPT_TYPES as never, receiptValue(r), sig),
    ).toBe(wallet.address);
    expect(
      verifyTypedData(
        receiptDomain(31337),
        RECEIPT_TYPES as never,
        receiptValue({ ...r, tokensOut: 33 }),
        sig,
      ),
    ).not.toBe(wallet.address);
    expect(
      verifyTypedData(receiptDomain(1), RECEIPT_TYPES as never, receiptValue(r), sig),
    ).not.toBe(wallet.address);
  });

  it('the charge rounds the per-million sum up, and a request price is flat', () => {
    expect(chargeFor({ per: 'mtok', input: '1', output: '1' }, { tokensIn: 1, tokensOut: 0 })).toBe(
      1n,
    );
    expect(chargeFor({ per: 'mtok', input: '0', output: '0' }, { tokensIn: 5, tokensOut: 5 })).toBe(
      0n,
    );
    expect(
      chargeFor(
        { per: 'mtok', input: '2000000', output: '5000000' },
        { tokensIn: 7, tokensOut: 32 },
      ),
    ).toBe(174n);
    expect(chargeFor({ per: 'request', amount: '10' }, { tokensIn: 0, tokensOut: 0 })).toBe(10n);
  });
});

describe('hostile values where the parser names them', () => {
  it('a version or type whose toString is not a function is refused in words, never thrown', () => {
    // String() of {"toString":null} throws; the parser used it in its messages (a provider could
    // end a gateway with one frame before logging in). Found by test/unit/frame-fast.test.ts.
    const hostile = [
      '{"v":{"toString":null}}',
      '{"v":{"toString":null,"valueOf":null},"type":"accept","jobId":"j"}',
      '{"v":1,"type":{"toString":null}}',
      '{"v":1,"type":[{"toString":null}]}',
      '{"v":[],"type":{}}',
    ];
    for (const text of hostile) {
      for (const parse of [parseProviderFrame, parseGatewayFrame]) {
        const r = parse(text);
        expect(r.ok).toBe(false);
        if (!r.ok) expect(['BAD_VERSION', 'UNKNOWN_TYPE']).toContain(r.code);
      }
    }
    expect(parseProviderFrame('{"v":{"toString":null}}')).toMatchObject({
      code: 'BAD_VERSION',
      message: expect.stringContaining('Protocol version an object is not supported'),
    });
  });
});

describe('helpers', () => {
  it('canonical JSON sorts keys at every level and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[1,{"y":2,"z":1}]},"b":1}',
    );
  });

  it('canonical JSON: every key sorted at every level, for any JSON (against a plain reference)', () => {
    // The reference: keys sorted by Array.prototype.sort, built with map and join (the first
    // implementation, before the allocation-free one).
    const reference = (v: unknown): string => {
      if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
      if (Array.isArray(v)) return `[${v.map(reference).join(',')}]`;
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o)
        .filter((k) => o[k] !== undefined)
        .sort();
      return `{${keys.map((k) => `${JSON.stringify(k)}:${reference(o[k])}`).join(',')}}`;
    };
    fc.assert(
      fc.property(
        fc.oneof(
          fc.jsonValue(),
          fc.dictionary(fc.string(), fc.jsonValue(), { minKeys: 10, maxKeys: 40 }),
        ),
        (v) => {
          expect(canonicalJson(v)).toBe(reference(v));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('gateway URLs: the printed http URL becomes its ws endpoint; plain http only to loopback', () => {
    expect(gatewayWsUrl('http://127.0.0.1:8080')).toEqual({
      ok: true,
      wsUrl: 'ws://127.0.0.1:8080/market/v1',
      origin: 'http://127.0.0.1:8080',
    });
    expect(gatewayWsUrl('https://gw.example/')).toEqual({
      ok: true,
      wsUrl: 'wss://gw.example/market/v1',
      origin: 'https://gw.example',
    });
    expect(gatewayWsUrl('ws://localhost:1/market/v1')).toMatchObject({
      ok: true,
      wsUrl: 'ws://localhost:1/market/v1',
    });
    expect(gatewayWsUrl('http://gw.example')).toMatchObject({ ok: false });
    expect(gatewayWsUrl('ftp://x')).toMatchObject({ ok: false });
  });
});
