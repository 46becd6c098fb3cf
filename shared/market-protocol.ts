/**
 * The market wire protocol between a provider node and a gateway (version 1).
 *
 * The provider dials out: a WebSocket to `${gateway}${PROVIDER_WS_PATH}` (wss:// in production,
 * plain ws:// only to loopback: gatewayWsUrl below). Every frame is one JSON text message
 * `{ v: 1, type, ... }`, at most MAX_FRAME_BYTES, validated with these schemas on both ends
 * (parseGatewayFrame / parseProviderFrame never throw: they return a typed error).
 *
 *   gateway  -> provider  hello            single-use nonce, gateway origin, chain id, limits
 *   provider -> gateway   login            EIP-4361 message (shared/siwe.ts) signed by the node key
 *   gateway  -> provider  login_ok | login_refused {code}      (refused: the gateway closes)
 *   provider -> gateway   capabilities     verified models by sha256, price floors, parallelism,
 *                                          GPUs; sent again whenever any of it changes
 *   provider -> gateway   away_report      jobs that ended while the connection was down
 *   gateway  -> provider  away_ack         with what the ledger charged for each reported job
 *   provider -> gateway   heartbeat        every hello.heartbeatMs, with telemetry; the gateway
 *   gateway  -> provider  heartbeat_ack    marks a provider offline after missing 3 of them
 *
 *   gateway  -> provider  offer            job id, model sha256, kind, price, max tokens, deadline
 *   provider -> gateway   accept | decline {reason: the earning policy's code}
 *   gateway  -> provider  input            messages or prompt + sampling, or tensors (after accept;
 *                                          small inputs come inline in the offer instead)
 *   provider -> gateway   chunk*           batched tokens: text + token count, flushed by time or
 *                                          size (the first token at once)
 *   provider -> gateway   done             usage, timings, output sha256, EIP-712 receipt
 *                                          (shared/receipt.ts) signed by the node key
 *                       | error            typed code, whether any token had been sent
 *   gateway  -> provider  cancel           the requester left or the deadline passed: stop now;
 *                                          the provider still answers done (finish "cancelled",
 *                                          the usage so far, a receipt) or error
 *   provider -> gateway   pause {reason} | resume    no offers while paused
 *   gateway  -> provider  pause {reason} | resume    the operator stops sending offers
 *   either   -> either    protocol_error   a frame that failed to parse; fatal ones close the socket
 *
 *   Payments (DESIGN.md "Payments"; only from a gateway that pays on chain):
 *   gateway  -> provider  payer            after login, once its channel to this provider is open:
 *                                          the payer address, chain id, hub and token it pays in
 *                                          (again after each top-up); no offers until answered
 *   provider -> gateway   payer_ack        checked against the provider's own chain settings;
 *                                          ok false: the provider will not be paid (it declines)
 *   gateway  -> provider  voucher          the cumulative EIP-712 voucher (shared/payments.ts) and
 *                                          the job ids it newly pays; after each job and every few
 *                                          seconds of a long stream; the latest again at login
 *   provider -> gateway   voucher_ack      stored durably (the cumulative it holds now)
 *                       | voucher_rejected {reason: vouchers.ts's check that failed}
 *
 * A job id is the gateway's; the provider answers each offer once. Amounts are decimal strings
 * of the token's smallest unit. Hashes are lowercase hex sha256 without 0x. The input's hash is
 * sha256 of canonicalJson(input.body) as UTF-8; an LLM output's is sha256 of its text as UTF-8,
 * a tensor output's sha256 of canonicalJson(outputs).
 */
import { z } from 'zod';
import { ERROR_CODES } from './errors';
import { SignedVoucherWireSchema } from './payments';
import { formatValue } from './format';
import { fastProviderFrame } from './frame-fast';
import { SignedReceiptSchema } from './receipt';

export const MARKET_PROTOCOL_VERSION = 1;
/** The path of the provider WebSocket on a gateway. */
export const PROVIDER_WS_PATH = '/market/v1';
/** The largest frame either side accepts (bytes of the UTF-8 text). */
export const MAX_FRAME_BYTES = 8 * 1024 * 1024;
/** How a provider batches tokens into chunks: the first at once, then every FLUSH_MS or TOKENS. */
export const CHUNK_FLUSH_MS = 30;
export const CHUNK_FLUSH_TOKENS = 32;
/** Heartbeats a gateway may miss before it marks a provider offline. */
export const MISSED_HEARTBEATS_OFFLINE = 3;

// ---------------------------------------------------------------------------------------------
// Building blocks

export const Sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256');
export const DecimalAmount = z.string().regex(/^(0|[1-9]\d{0,77})$/, 'a decimal integer string');
const JobId = z.string().min(1).max(128);
const Code = z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/, 'an UPPER_SNAKE code');
const Text = (max: number) => z.string().max(max);

/** A price: per million input and output tokens (LLMs), or per request (ONNX). */
export const PriceSchema = z.discriminatedUnion('per', [
  z.object({ per: z.literal('mtok'), input: DecimalAmount, output: DecimalAmount }),
  z.object({ per: z.literal('request'), amount: DecimalAmount }),
]);
export type Price = z.infer<typeof PriceSchema>;

export const TensorSpecSchema = z.object({
  name: Text(256),
  datatype: Text(16),
  /** -1 where the model leaves a dimension free. */
  shape: z.array(z.number().int()).max(16),
});

export const ModelCapabilitySchema = z.object({
  sha256: Sha256Hex,
  /** The catalog id or the imported file's name: what requesters see in /v1/models. */
  name: Text(256).min(1),
  kind: z.enum(['llm', 'onnx']),
  /** The lowest price the node accepts for this model. */
  floor: PriceSchema,
  /** LLMs: tokens per sequence. */
  contextSize: z.number().int().positive().optional(),
  /** ONNX: the model's tensors (for /v2/models/{name} metadata). */
  inputs: z.array(TensorSpecSchema).max(256).optional(),
  outputs: z.array(TensorSpecSchema).max(256).optional(),
  /** LLMs: whether response_format json_schema / grammars are supported. */
  structuredOutput: z.boolean().optional(),
});
export type ModelCapability = z.infer<typeof ModelCapabilitySchema>;

export const GpuSummarySchema = z.object({
  name: Text(256),
  vendor: Text(64),
  vramBytes: z.number().int().nonnegative().nullable(),
  backend: Text(64).optional(),
});

export const TelemetrySchema = z.object({
  activeJobs: z.number().int().nonnegative(),
  /** Tokens per second over the last heartbeat interval, all jobs together. */
  tokensPerS: z.number().nonnegative().optional(),
  gpus: z
    .array(
      z.object({
        utilizationPct: z.number().min(0).max(100).nullable(),
        temperatureC: z.number().nullable(),
        powerW: z.number().nonnegative().nullable(),
        vramUsedBytes: z.number().int().nonnegative().nullable(),
      }),
    )
    .max(64)
    .default([]),
  cpuPct: z.number().min(0).max(100).nullable().optional(),
});
export type Telemetry = z.infer<typeof TelemetrySchema>;

// Job input: the engine's shapes (shared/engine-protocol.ts) in JSON.

export const WireSamplingSchema = z.object({
  max_tokens: z.number().int().min(1),
  temperature: z.number().min(0).max(5).optional(),
  top_p: z.number().gt(0).max(1).optional(),
  seed: z.number().int().min(0).max(0xffffffff).optional(),
  stop: z.array(z.string().min(1)).max(16).optional(),
  frequency_penalty: z.number().min(-2).max(2).optional(),
  presence_penalty: z.number().min(-2).max(2).optional(),
  response_format: z
    .discriminatedUnion('type', [
      z.object({ type: z.literal('text') }),
      z.object({ type: z.literal('json_object') }),
      z.object({
        type: z.literal('json_schema'),
        json_schema: z.object({
          name: z.string().optional(),
          schema: z.record(z.string(), z.unknown()),
        }),
      }),
    ])
    .optional(),
});
export type WireSampling = z.infer<typeof WireSamplingSchema>;

export const WireChatMessageSchema = z.object({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string(),
});

/**
 * A tensor: OIP JSON data (a flat row-major array), or `b64`, the raw little-endian bytes in
 * base64 (what the binary tensor extension carries; BYTES as 4-byte length-prefixed elements).
 */
export const WireTensorSchema = z
  .object({
    name: Text(256).min(1),
    datatype: Text(16),
    shape: z.array(z.number().int().min(0)).max(16),
    data: z.array(z.unknown()).optional(),
    b64: z.string().optional(),
  })
  .refine((t) => (t.data === undefined) !== (t.b64 === undefined), {
    message: 'a tensor has either data or b64',
  });
export type WireTensor = z.infer<typeof WireTensorSchema>;

export const JobInputBodySchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('chat'),
    messages: z.array(WireChatMessageSchema).min(1).max(10_000),
    sampling: WireSamplingSchema,
  }),
  z.object({ kind: z.literal('completion'), prompt: z.string(), sampling: WireSamplingSchema }),
  z.object({
    kind: z.literal('tensor'),
    inputs: z.array(WireTensorSchema).min(1).max(256),
    /** Only these outputs; all when absent. */
    outputs: z.array(Text(256)).max(256).optional(),
  }),
]);
export type JobInputBody = z.infer<typeof JobInputBodySchema>;

export const UsageSchema = z.object({
  tokensIn: z.number().int().nonnegative(),
  tokensOut: z.number().int().nonnegative(),
});

/** Policy declines use the earning policy's codes (PRICE_BELOW_FLOOR, TOO_HOT, ...). */
export const LOGIN_REFUSALS = [
  'MALFORMED', // the message does not parse as EIP-4361
  'BAD_SIGNATURE', // the signature does not recover the message's address
  'WRONG_DOMAIN', // domain or URI is not this gateway's origin
  'WRONG_CHAIN',
  'WRONG_NONCE', // not the nonce this connection was given
  'NONCE_REPLAYED', // the nonce was used before
  'EXPIRED', // the message's expiry passed (or it has none)
  'NOT_YET_VALID',
  'BANNED', // the operator refuses this address
] as const;
export type LoginRefusal = (typeof LOGIN_REFUSALS)[number];

export const PROTOCOL_ERRORS = [
  'MALFORMED', // not JSON, or JSON that fails the schema of its type
  'UNKNOWN_TYPE', // a type this side does not know
  'TOO_LARGE', // over MAX_FRAME_BYTES
  'BAD_VERSION', // v is not MARKET_PROTOCOL_VERSION
  'UNEXPECTED', // a valid frame at the wrong time (before login, for an unknown job)
  'TOO_MANY', // frames arriving faster than allowed
] as const;
export type ProtocolErrorCode = (typeof PROTOCOL_ERRORS)[number];

/** Error codes of a job's `error` frame: the engine's (shared/errors.ts). */
export const JobErrorCodeSchema = z.enum(ERROR_CODES);

const Address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'an address: 0x and 40 hex digits');

/** Who pays a gateway's providers, and in what (the payer frame). */
export const PayerSchema = z.object({
  address: Address,
  chainId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  hub: Address,
  token: z.object({
    address: Address,
    symbol: Text(32),
    decimals: z.number().int().min(0).max(36),
  }),
});
export type Payer = z.infer<typeof PayerSchema>;

/** Why a provider refused a voucher (electron/provider/wallet/vouchers.ts RejectReason). */
export const VOUCHER_REJECTIONS = [
  'malformed',
  'chain',
  'contract',
  'provider',
  'payer',
  'token',
  'signature',
  'epoch',
  'over-lock',
  'decreased',
  'unpaid', // the provider is configured for no chain: it cannot check vouchers
  'unavailable', // its chain could not be read: send it again later
] as const;
export type VoucherRejection = (typeof VOUCHER_REJECTIONS)[number];

const frame = <T extends string, S extends z.ZodRawShape>(type: T, shape: S) =>
  z.object({ v: z.literal(MARKET_PROTOCOL_VERSION), type: z.literal(type), ...shape });

const ProtocolErrorFrame = frame('protocol_error', {
  code: z.enum(PROTOCOL_ERRORS),
  message: Text(1024),
  /** The sender closes the connection after a fatal one. */
  fatal: z.boolean(),
});

// ---------------------------------------------------------------------------------------------
// gateway -> provider

/** One job of an away_ack's `settled`: what the gateway counted and charged for it. */
export const AwaySettledSchema = z.object({
  jobId: JobId,
  tokensOut: z.number().int().min(0),
  charge: DecimalAmount,
});

export const GatewayFrameSchema = z.discriminatedUnion('type', [
  frame('hello', {
    /** Single use: a login may carry it once, on this connection only. */
    nonce: z.string().regex(/^[A-Za-z0-9]{8,128}$/),
    /** The gateway's origin (`http://127.0.0.1:N`): the SIWE domain and URI. */
    origin: Text(2048).min(1),
    chainId: z.number().int().positive(),
    /** The login must arrive before this (RFC 3339). */
    expiresAt: z.iso.datetime(),
    heartbeatMs: z.number().int().min(100).max(600_000),
    maxFrameBytes: z.number().int().positive(),
    gateway: z.object({ name: Text(256), version: Text(64) }),
  }),
  frame('login_ok', {
    address: z.string().regex(/^0x[0-9a-fA-F]{40}$/),
    sessionId: Text(128).min(1),
  }),
  frame('login_refused', { code: z.enum(LOGIN_REFUSALS), message: Text(1024) }),
  frame('heartbeat_ack', { t: z.number() }),
  frame('away_ack', {
    jobIds: z.array(JobId).max(10_000),
    /**
     * What the gateway's ledger holds for the reported jobs this provider ran: the output tokens
     * that reached the gateway and the charge (what the provider is paid for the job). A job the
     * ledger does not have (yet), or another provider's, is not in it. Optional: an older gateway
     * sends none, and the provider keeps its own count.
     */
    settled: z.array(AwaySettledSchema).max(10_000).optional(),
  }),
  frame('offer', {
    jobId: JobId,
    modelSha256: Sha256Hex,
    kind: z.enum(['chat', 'completion', 'tensor']),
    price: PriceSchema,
    /** LLM jobs: the most completion tokens. Tensor jobs: 0. */
    maxTokens: z.number().int().nonnegative(),
    /** Epoch ms after which the gateway cancels the job. */
    deadline: z.number().int().positive(),
    /**
     * The input inline (small inputs, to save a round trip): a provider that accepts runs it at
     * once and no `input` frame follows. Absent: the input frame follows the accept.
     */
    input: JobInputBodySchema.optional(),
  }),
  frame('input', { jobId: JobId, body: JobInputBodySchema }),
  frame('cancel', { jobId: JobId, reason: z.enum(['CLIENT_GONE', 'DEADLINE', 'SHUTDOWN']) }),
  frame('pause', { reason: Text(1024) }),
  frame('resume', {}),
  frame('payer', { payer: PayerSchema }),
  frame('voucher', { voucher: SignedVoucherWireSchema, jobIds: z.array(JobId).max(10_000) }),
  ProtocolErrorFrame,
]);
export type GatewayFrame = z.infer<typeof GatewayFrameSchema>;

// ---------------------------------------------------------------------------------------------
// provider -> gateway

export const TimingsSchema = z.object({
  /** From the input's arrival to the first token (null: none came). */
  ttftMs: z.number().nonnegative().nullable(),
  durationMs: z.number().nonnegative(),
});

export const AwayJobSchema = z.object({
  jobId: JobId,
  outcome: z.enum(['done', 'cancelled', 'error']),
  usage: UsageSchema,
  receipt: SignedReceiptSchema.optional(),
  error: z.object({ code: JobErrorCodeSchema, message: Text(1024) }).optional(),
});

export const ProviderFrameSchema = z.discriminatedUnion('type', [
  frame('login', {
    /** The EIP-4361 text (shared/siwe.ts buildSiweMessage). */
    message: Text(8192),
    /** EIP-191 signature of the message by the node key. */
    signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/),
    client: z.object({ name: Text(256), version: Text(64) }),
  }),
  frame('capabilities', {
    models: z.array(ModelCapabilitySchema).max(1024),
    /** Jobs the node runs at once. */
    parallelism: z.number().int().min(1).max(1024),
    gpus: z.array(GpuSummarySchema).max(64),
  }),
  frame('heartbeat', { t: z.number(), telemetry: TelemetrySchema }),
  frame('away_report', { jobs: z.array(AwayJobSchema).max(10_000) }),
  frame('accept', { jobId: JobId }),
  frame('decline', { jobId: JobId, reason: Code, message: Text(1024).optional() }),
  frame('chunk', {
    jobId: JobId,
    /** 0, 1, 2, ... per job. */
    seq: z.number().int().nonnegative(),
    /** The text of the tokens in this chunk, concatenated. */
    text: z.string(),
    tokens: z.number().int().nonnegative(),
  }),
  frame('done', {
    jobId: JobId,
    finishReason: z.enum(['stop', 'length', 'cancelled']),
    usage: UsageSchema,
    timings: TimingsSchema,
    outputSha256: Sha256Hex,
    receipt: SignedReceiptSchema,
    /** Tensor jobs: the outputs (OIP JSON data or b64). */
    outputs: z.array(WireTensorSchema).max(256).optional(),
  }),
  frame('error', {
    jobId: JobId,
    code: JobErrorCodeSchema,
    message: Text(1024),
    /** Whether any chunk of this job had been sent (then the gateway cannot retry). */
    tokensSent: z.boolean(),
    /** Tokens generated before the failure (what is charged). */
    usage: UsageSchema.optional(),
  }),
  frame('pause', { reason: Text(1024) }),
  frame('resume', {}),
  frame('payer_ack', { ok: z.boolean(), message: Text(1024) }),
  frame('voucher_ack', { epoch: z.number().int().nonnegative(), cumulative: DecimalAmount }),
  frame('voucher_rejected', {
    reason: z.enum(VOUCHER_REJECTIONS),
    message: Text(1024),
    cumulative: DecimalAmount,
  }),
  ProtocolErrorFrame,
]);
export type ProviderFrame = z.infer<typeof ProviderFrameSchema>;

export type FrameOf<F extends { type: string }, T extends F['type']> = Extract<F, { type: T }>;

// ---------------------------------------------------------------------------------------------
// Parsing

export type ParseResult<F> =
  { ok: true; frame: F } | { ok: false; code: ProtocolErrorCode; message: string };

const GATEWAY_TYPES = new Set(GatewayFrameSchema.options.map((o) => o.shape.type.value));
const PROVIDER_TYPES = new Set(ProviderFrameSchema.options.map((o) => o.shape.type.value));

function parseWith<F>(
  schema: z.ZodType<F>,
  types: Set<string>,
  data: unknown,
  maxBytes: number,
  fast?: (json: Record<string, unknown>, version: number) => F | null,
): ParseResult<F> {
  let text: string;
  if (typeof data === 'string') text = data;
  else if (data instanceof Uint8Array) {
    if (data.byteLength > maxBytes) return tooLarge(data.byteLength, maxBytes);
    text = new TextDecoder('utf-8', { fatal: false }).decode(data);
  } else return { ok: false, code: 'MALFORMED', message: 'A frame must be text' };
  // A JS string's length is at most its UTF-8 size; 3 bytes per unit is the upper bound.
  if (text.length > maxBytes || (text.length * 3 > maxBytes && utf8Length(text) > maxBytes)) {
    return tooLarge(utf8Length(text), maxBytes);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, code: 'MALFORMED', message: 'The frame is not JSON' };
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    return { ok: false, code: 'MALFORMED', message: 'A frame is a JSON object' };
  }
  const { v, type } = json as { v?: unknown; type?: unknown };
  if (v !== MARKET_PROTOCOL_VERSION) {
    return {
      ok: false,
      code: 'BAD_VERSION',
      message: `Protocol version ${formatValue(v, 16)} is not supported (this side speaks ${MARKET_PROTOCOL_VERSION})`,
    };
  }
  if (typeof type !== 'string' || !types.has(type)) {
    return {
      ok: false,
      code: 'UNKNOWN_TYPE',
      message: `Unknown frame type ${JSON.stringify(formatValue(type, 64))}`,
    };
  }
  const quick = fast?.(json as Record<string, unknown>, MARKET_PROTOCOL_VERSION);
  if (quick) return { ok: true, frame: quick };
  const r = schema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue?.path.length ? ` at ${issue.path.join('.')}` : '';
    return {
      ok: false,
      code: 'MALFORMED',
      message: `Bad ${type} frame${where}: ${issue?.message ?? 'invalid'}`.slice(0, 1024),
    };
  }
  return { ok: true, frame: r.data };
}

function tooLarge(bytes: number, max: number): { ok: false; code: 'TOO_LARGE'; message: string } {
  return {
    ok: false,
    code: 'TOO_LARGE',
    message: `Frame of ${bytes} bytes over the ${max}-byte cap`,
  };
}

function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** What a provider received. Never throws. */
export function parseGatewayFrame(
  data: unknown,
  maxBytes = MAX_FRAME_BYTES,
): ParseResult<GatewayFrame> {
  return parseWith(GatewayFrameSchema, GATEWAY_TYPES, data, maxBytes);
}

/** What a gateway received. Never throws. */
export function parseProviderFrame(
  data: unknown,
  maxBytes = MAX_FRAME_BYTES,
): ParseResult<ProviderFrame> {
  return parseWith(ProviderFrameSchema, PROVIDER_TYPES, data, maxBytes, fastProviderFrame);
}

type Body<F> = F extends unknown ? Omit<F, 'v'> : never;

/** The text of a frame (adds `v`). */
export function encodeFrame(f: Body<GatewayFrame> | Body<ProviderFrame>): string {
  return JSON.stringify({ v: MARKET_PROTOCOL_VERSION, ...f });
}

// ---------------------------------------------------------------------------------------------
// Helpers both sides need

/** JSON with object keys sorted at every level: the text hashed for inputSha256. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  // Loops and one string, not map/filter/join arrays: it runs on every job's input and output.
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i === 0 ? '' : ',') + canonicalJson(value[i]);
    return `${out}]`;
  }
  const o = value as Record<string, unknown>;
  const keys = sortKeys(Object.keys(o));
  let out = '{';
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    const v = o[k];
    if (v === undefined) continue;
    out += `${out.length === 1 ? '' : ','}${JSON.stringify(k)}:${canonicalJson(v)}`;
  }
  return `${out}}`;
}

/** Sorted in place like Array.prototype.sort's default (UTF-16 code units): insertion sort for
 * the few keys of a message object, where sort() allocates its work arrays on every call. */
function sortKeys(keys: string[]): string[] {
  if (keys.length > 16) return keys.sort();
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i] as string;
    let j = i - 1;
    while (j >= 0 && (keys[j] as string) > k) {
      keys[j + 1] = keys[j] as string;
      j--;
    }
    keys[j + 1] = k;
  }
  return keys;
}

const LOOPBACK = /^(localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\])$/i;

export type GatewayUrlResult =
  { ok: true; wsUrl: string; origin: string } | { ok: false; error: string };

/**
 * The provider WebSocket URL of a gateway given as it prints itself (`http://127.0.0.1:N`) or as
 * a ws(s) URL. Plain http/ws only to loopback. No I/O: a string parser.
 */
export function gatewayWsUrl(url: string): GatewayUrlResult {
  const m = /^(https?|wss?):\/\/([^/?#]+)(\/[^?#]*)?$/i.exec(url.trim());
  if (!m)
    return { ok: false, error: 'A gateway URL looks like https://host or http://127.0.0.1:PORT' };
  const scheme = (m[1] as string).toLowerCase();
  const authority = m[2] as string;
  const host = authority.replace(/:\d+$/, '');
  const secure = scheme === 'https' || scheme === 'wss';
  if (!secure && !LOOPBACK.test(host)) {
    return {
      ok: false,
      error: 'Plain http/ws is allowed only to this computer (127.0.0.1); use https',
    };
  }
  const path = (m[3] ?? '').replace(/\/+$/, '');
  const origin = `${secure ? 'https' : 'http'}://${authority}`;
  const wsPath = path.endsWith(PROVIDER_WS_PATH) ? path : `${path}${PROVIDER_WS_PATH}`;
  return { ok: true, wsUrl: `${secure ? 'wss' : 'ws'}://${authority}${wsPath}`, origin };
}
