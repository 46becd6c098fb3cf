// A TEST provider process for the gateway's tests until the market client (electron/provider/
// market) runs headless: it speaks the wire protocol (shared/market-protocol.ts) as a provider
// must (SIWE login with a real secp256k1 key, capabilities, heartbeats, accept, chunks, EIP-712
// receipts, cancel) and runs every job on the REAL engine process (stories260K, mnist-8).
// Run: node --import tsx test/helpers/gateway-provider.ts, configured by the environment:
//   GW_URL         the gateway as it prints itself
//   GW_KEY         the node key (0x hex private key); a new one when absent
//   GW_PACE_MS     delay between chunks it forwards (a slow provider, to act between tokens)
//   GW_DECLINE     decline every offer with this reason code
//   GW_FLUSH_TOKENS the engine's chunk size (default 32)
//   GW_FLOOR_OUTPUT its floor for stories260K completion tokens, per million (default 3000000)
// It prints one JSON line per event on stdout: ready, accepted, chunk, done, cancelled, error.
import { createHash } from 'node:crypto';
import WebSocket from 'ws';
import { Wallet } from 'ethers';
import {
  canonicalJson,
  encodeFrame,
  gatewayWsUrl,
  parseGatewayFrame,
  type FrameOf,
  type GatewayFrame,
  type JobInputBody,
  type ModelCapability,
  type Price,
  type ProviderFrame,
  type WireTensor,
} from '../../shared/market-protocol';
import { buildSiweMessage, originHost } from '../../shared/siwe';
import {
  RECEIPT_TYPES,
  chargeFor,
  receiptDomain,
  receiptValue,
  type Receipt,
} from '../../shared/receipt';
import type { OipTensor } from '../../shared/engine-protocol';
import { MODELS, startEngine } from './engine';

const env = process.env;
const wallet = env.GW_KEY ? new Wallet(env.GW_KEY) : Wallet.createRandom();
const paceMs = Number(env.GW_PACE_MS ?? 0);
const emit = (e: Record<string, unknown>): void =>
  void process.stdout.write(`${JSON.stringify(e)}\n`);
const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

const ctx = await startEngine({
  models: ['stories', 'mnist'],
  config: { stream: { flushMs: 30, flushTokens: Number(env.GW_FLUSH_TOKENS ?? 32) } },
});
const engine = ctx.engine;
const mnist = await engine.request('models.load', { kind: 'onnx', model: MODELS.mnist });
await engine.request('models.load', { kind: 'llm', model: MODELS.stories });

const models: ModelCapability[] = [
  {
    sha256: MODELS.stories.sha256,
    name: 'stories260K',
    kind: 'llm',
    floor: { per: 'mtok', input: '1000000', output: env.GW_FLOOR_OUTPUT ?? '3000000' },
    contextSize: 512,
    structuredOutput: true,
  },
  {
    sha256: MODELS.mnist.sha256,
    name: 'mnist-8',
    kind: 'onnx',
    floor: { per: 'request', amount: '7' },
    inputs: mnist.onnx?.inputs ?? [],
    outputs: mnist.onnx?.outputs ?? [],
  },
];

const TYPED: Record<string, (b: Buffer) => ArrayBufferView> = {
  FP32: (b) => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)),
  FP64: (b) => new Float64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)),
  INT32: (b) => new Int32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)),
  INT64: (b) => new BigInt64Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length)),
  UINT8: (b) => new Uint8Array(b),
};

function toEngineTensor(t: WireTensor): OipTensor {
  const data = t.b64 !== undefined ? TYPED[t.datatype]?.(Buffer.from(t.b64, 'base64')) : t.data;
  return {
    name: t.name,
    shape: t.shape,
    datatype: t.datatype as OipTensor['datatype'],
    data: data ?? [],
  };
}

function toWireTensor(t: OipTensor): WireTensor {
  const d = t.data;
  if (ArrayBuffer.isView(d)) {
    return {
      name: t.name,
      shape: t.shape,
      datatype: t.datatype,
      b64: Buffer.from(d.buffer, d.byteOffset, d.byteLength).toString('base64'),
    };
  }
  return { name: t.name, shape: t.shape, datatype: t.datatype, data: d as unknown[] };
}

let ws: WebSocket;
let hello: FrameOf<GatewayFrame, 'hello'> | null = null;
const running = new Map<string, AbortController>();
const offers = new Map<string, FrameOf<GatewayFrame, 'offer'>>();
let beat: NodeJS.Timeout | null = null;

function send(f: Parameters<typeof encodeFrame>[0]): void {
  if (ws.readyState === ws.OPEN) ws.send(encodeFrame(f));
}

async function sign(r: Receipt): Promise<string> {
  return wallet.signTypedData(
    receiptDomain(hello!.chainId),
    RECEIPT_TYPES as never,
    receiptValue(r),
  );
}

async function run(offer: FrameOf<GatewayFrame, 'offer'>, body: JobInputBody): Promise<void> {
  const ac = new AbortController();
  running.set(offer.jobId, ac);
  const t0 = performance.now();
  let ttft: number | null = null;
  let seq = 0;
  let sent = 0;
  let text = '';
  let pacing = Promise.resolve();
  const price: Price = offer.price;
  const inputSha256 = sha(canonicalJson(body));
  const sendChunk = (piece: string, tokens: number): void => {
    const go = (): void => {
      if (ac.signal.aborted) return;
      ttft ??= performance.now() - t0;
      text += piece;
      sent += tokens;
      send({ type: 'chunk', jobId: offer.jobId, seq: seq++, text: piece, tokens });
      emit({ event: 'chunk', jobId: offer.jobId, tokens: sent });
    };
    if (paceMs > 0)
      pacing = pacing.then(() => new Promise<void>((r) => setTimeout(() => (go(), r()), paceMs)));
    else go();
  };
  try {
    if (body.kind === 'tensor') {
      const r = await engine.infer(
        MODELS.mnist,
        { inputs: body.inputs.map(toEngineTensor) },
        { signal: ac.signal },
      );
      const outputs = r.outputs.map(toWireTensor);
      const outputSha256 = sha(canonicalJson(outputs));
      const receipt: Receipt = {
        jobId: offer.jobId,
        modelSha256: offer.modelSha256,
        inputSha256,
        outputSha256,
        tokensIn: 0,
        tokensOut: 0,
        price: chargeFor(price, { tokensIn: 0, tokensOut: 0 }).toString(),
        gateway: hello!.origin,
      };
      send({
        type: 'done',
        jobId: offer.jobId,
        finishReason: 'stop',
        usage: { tokensIn: 0, tokensOut: 0 },
        timings: { ttftMs: null, durationMs: performance.now() - t0 },
        outputSha256,
        receipt: { ...receipt, signature: await sign(receipt) },
        outputs,
      });
      emit({ event: 'done', jobId: offer.jobId, kind: 'tensor' });
      return;
    }
    const s = body.sampling;
    const sampling = {
      max_tokens: s.max_tokens,
      temperature: s.temperature ?? 1,
      ...(s.top_p !== undefined ? { top_p: s.top_p } : {}),
      ...(s.seed !== undefined ? { seed: s.seed } : {}),
      ...(s.stop ? { stop: s.stop } : {}),
      ...(s.frequency_penalty !== undefined ? { frequency_penalty: s.frequency_penalty } : {}),
      ...(s.presence_penalty !== undefined ? { presence_penalty: s.presence_penalty } : {}),
      ...(s.response_format ? { response_format: s.response_format } : {}),
    };
    const onEvent = (e: { type: string; text?: string; tokens?: number }): void => {
      if (e.type === 'llm.chunk') sendChunk(e.text ?? '', e.tokens ?? 0);
    };
    const r =
      body.kind === 'chat'
        ? await engine.chat(
            { model: MODELS.stories, messages: body.messages, ...sampling },
            { signal: ac.signal, onEvent },
          )
        : await engine.complete(
            { model: MODELS.stories, prompt: body.prompt, ...sampling },
            { signal: ac.signal, onEvent },
          );
    await pacing;
    const cancelled = ac.signal.aborted || r.finish_reason === 'cancelled';
    // What the engine generated is what the job costs (cancelled or not).
    const tokensOut = r.usage.completion_tokens;
    const usage = { tokensIn: r.usage.prompt_tokens, tokensOut };
    const receipt: Receipt = {
      jobId: offer.jobId,
      modelSha256: offer.modelSha256,
      inputSha256,
      outputSha256: sha(text),
      tokensIn: usage.tokensIn,
      tokensOut: usage.tokensOut,
      price: chargeFor(price, usage).toString(),
      gateway: hello!.origin,
    };
    send({
      type: 'done',
      jobId: offer.jobId,
      finishReason: cancelled ? 'cancelled' : r.finish_reason === 'length' ? 'length' : 'stop',
      usage,
      timings: { ttftMs: ttft, durationMs: performance.now() - t0 },
      outputSha256: receipt.outputSha256,
      receipt: { ...receipt, signature: await sign(receipt) },
    });
    emit({
      event: cancelled ? 'cancelled' : 'done',
      jobId: offer.jobId,
      tokensOut,
      engineTokens: r.usage.completion_tokens,
      finish: r.finish_reason,
    });
  } catch (err) {
    const e = err as { code?: string; message?: string };
    await pacing;
    send({
      type: 'error',
      jobId: offer.jobId,
      code: (e.code ?? 'INTERNAL') as FrameOf<ProviderFrame, 'error'>['code'],
      message: String(e.message ?? err).slice(0, 1000),
      tokensSent: sent > 0,
      usage: { tokensIn: 0, tokensOut: sent },
    });
    emit({
      event: ac.signal.aborted ? 'cancelled' : 'error',
      jobId: offer.jobId,
      code: e.code,
      tokensOut: sent,
    });
  } finally {
    running.delete(offer.jobId);
  }
}

async function onFrame(f: GatewayFrame): Promise<void> {
  switch (f.type) {
    case 'hello': {
      hello = f;
      const now = Date.now();
      const message = buildSiweMessage({
        domain: originHost(f.origin),
        address: wallet.address,
        statement: 'Idlerig provider login',
        uri: f.origin,
        version: '1',
        chainId: f.chainId,
        nonce: f.nonce,
        issuedAt: new Date(now).toISOString(),
        expirationTime: new Date(now + 60_000).toISOString(),
      });
      send({
        type: 'login',
        message,
        signature: await wallet.signMessage(message),
        client: { name: 'test-provider', version: '1' },
      });
      return;
    }
    case 'login_ok':
      send({ type: 'capabilities', models, parallelism: 4, gpus: [] });
      beat = setInterval(
        () =>
          send({
            type: 'heartbeat',
            t: Date.now(),
            telemetry: { activeJobs: running.size, gpus: [] },
          }),
        f ? hello!.heartbeatMs : 5000,
      );
      emit({ event: 'ready', address: wallet.address });
      return;
    case 'login_refused':
      emit({ event: 'refused', code: f.code });
      return;
    case 'offer':
      if (env.GW_DECLINE) {
        send({ type: 'decline', jobId: f.jobId, reason: env.GW_DECLINE });
        emit({ event: 'declined', jobId: f.jobId });
        return;
      }
      send({ type: 'accept', jobId: f.jobId });
      emit({ event: 'accepted', jobId: f.jobId, kind: f.kind });
      if (f.input) void run(f, f.input);
      else offers.set(f.jobId, f);
      return;
    case 'input': {
      const offer = offers.get(f.jobId);
      offers.delete(f.jobId);
      if (offer) void run(offer, f.body);
      return;
    }
    case 'cancel':
      emit({ event: 'cancel-received', jobId: f.jobId, at: Date.now() });
      running.get(f.jobId)?.abort();
      return;
    default:
      return;
  }
}

function connect(): void {
  const target = gatewayWsUrl(env.GW_URL ?? '');
  if (!target.ok) throw new Error(target.error);
  ws = new WebSocket(target.wsUrl);
  ws.on('message', (data) => {
    const r = parseGatewayFrame(data.toString());
    if (r.ok) void onFrame(r.frame);
  });
  ws.on('error', () => undefined);
  ws.on('close', () => {
    if (beat) clearInterval(beat);
    emit({ event: 'disconnected' });
    // Redial (the gateway restart test): a short fixed delay is enough for a test provider.
    setTimeout(connect, 300);
  });
}

connect();
process.on('SIGTERM', () => {
  void ctx.close().finally(() => process.exit(0));
});
