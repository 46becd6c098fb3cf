// The market as the provider's API shows it: the gateways the node connects to (settings.json
// `network`, version 5), their state, and what the node shares with them. The wire protocol
// between provider and gateway is in shared/market-protocol.ts.
import { z } from 'zod';
import { gatewayWsUrl } from '../market-protocol';

/**
 * A gateway URL as the gateway prints it (`http://127.0.0.1:N`) or its WebSocket endpoint.
 * Plain http/ws only to loopback; anywhere else https/wss.
 */
export const GatewayUrlSchema = z
  .string()
  .trim()
  .min(1, 'Enter the gateway URL')
  .max(2048, 'The URL is too long')
  .superRefine((url, ctx) => {
    const r = gatewayWsUrl(url);
    if (!r.ok) ctx.addIssue({ code: 'custom', message: r.error });
  });

/** How the market's token relates to the electricity currency (for the price floor). */
export const MarketPricingSchema = z.object({
  /** What one whole token is worth in the electricity currency. */
  currencyPerToken: z
    .number({ error: 'The token value must be a number' })
    .positive('The token value must be above 0')
    .max(1e12, 'The token value is too large'),
  /** Decimals of the ERC-20 token (18 for most). */
  tokenDecimals: z.number().int().min(0).max(36),
  tokenSymbol: z.string().trim().min(1).max(16),
});

export const NetworkSettingsSchema = z.object({
  /**
   * 'demo': the local demo network (the node starts it: shared/api/devnet.ts); 'custom': the
   * gateways below. null: not chosen yet (the first-run wizard asks).
   */
  mode: z.enum(['demo', 'custom']).nullable(),
  /** The gateways this node connects to. */
  gateways: z.array(z.object({ url: GatewayUrlSchema })).max(16, 'At most 16 gateways'),
  pricing: MarketPricingSchema,
});
export type NetworkSettings = z.infer<typeof NetworkSettingsSchema>;

export const NetworkSettingsPatchSchema = NetworkSettingsSchema.strict().partial();

export function defaultNetworkSettings(): NetworkSettings {
  return {
    mode: null,
    gateways: [],
    pricing: { currencyPerToken: 1, tokenDecimals: 18, tokenSymbol: 'IDLE' },
  };
}

// ---------------------------------------------------------------------------------------------
// What the API shows of the market (electron/provider/market).

export const SESSION_PHASES = [
  'connecting',
  'logging-in',
  'ready',
  'paused',
  'waiting',
  'refused',
  'stopped',
  'invalid',
] as const;

export const GatewayViewSchema = z.object({
  url: z.string(),
  /** From settings.network.gateways, or `--gateway` on the command line (not saved). */
  source: z.enum(['settings', 'command-line']),
  phase: z.enum(SESSION_PHASES),
  /** In words. */
  detail: z.string(),
  /** When the next dial happens (epoch ms) while `waiting`. */
  retryAt: z.number().nullable(),
  /** The same as seconds from when this view was made (the node's clock, not the page's). */
  retryInSeconds: z.number().int().nonnegative().nullable(),
  /** Round trip of the last heartbeat. */
  latencyMs: z.number().nullable(),
  address: z.string().nullable(),
  sessionId: z.string().nullable(),
  gateway: z.object({ name: z.string(), version: z.string() }).nullable(),
  pausedReason: z.string().nullable(),
  jobsServed: z.number().int().nonnegative(),
  jobsDeclined: z.number().int().nonnegative(),
  jobsFailed: z.number().int().nonnegative(),
  activeJobs: z.number().int().nonnegative(),
  connectedSince: z.number().nullable(),
});
export type GatewayView = z.infer<typeof GatewayViewSchema>;

export const RunningMarketJobSchema = z.object({
  jobId: z.string(),
  gateway: z.string(),
  model: z.string(),
  kind: z.enum(['chat', 'completion', 'tensor']),
  startedAt: z.number(),
  tokensOut: z.number().int().nonnegative(),
  /** Decode speed so far; null before the second token. */
  tokensPerS: z.number().nullable(),
});
export type RunningMarketJob = z.infer<typeof RunningMarketJobSchema>;

const SharedMessageSchema = z
  .object({ gateway: z.string(), at: z.string(), frame: z.unknown() })
  .nullable();
/** The exact messages last sent to a gateway, as JSON: what "What this app shares" shows. */
export const SharedMessagesSchema = z.object({
  capabilities: SharedMessageSchema,
  heartbeat: SharedMessageSchema,
  telemetry: SharedMessageSchema,
});
export type SharedMessages = z.infer<typeof SharedMessagesSchema>;

export const NodeIdentitySchema = z.object({
  /** The node key's address (0x…); null until it is loaded. */
  address: z.string().nullable(),
  /** How the key is kept at rest, in words. */
  protection: z.string().nullable(),
  /** Why the key is not available (no passphrase, damaged file), in words. */
  error: z.string().nullable(),
});
export type NodeIdentity = z.infer<typeof NodeIdentitySchema>;

export const MarketStatusSchema = z.object({
  identity: NodeIdentitySchema,
  gateways: z.array(GatewayViewSchema),
  running: z.array(RunningMarketJobSchema),
  shared: SharedMessagesSchema,
});
export type MarketStatus = z.infer<typeof MarketStatusSchema>;

/** Pushed when the market changes (throttled while jobs stream). */
export const MarketEventSchema = z.object({
  type: z.literal('market'),
  market: MarketStatusSchema,
});

const NoParams = z.object({}).strict();
const UrlParams = z.object({ url: GatewayUrlSchema }).strict();

/** The market calls of the provider API. */
export const marketContract = {
  'market.status': { params: NoParams, result: MarketStatusSchema },
  /** The node key's address, for Settings. */
  'market.identity': { params: NoParams, result: NodeIdentitySchema },
  /** Adds a gateway to settings.network.gateways (no-op when it is there). */
  'market.addGateway': { params: UrlParams, result: MarketStatusSchema },
  'market.removeGateway': {
    params: z.object({ url: z.string().min(1).max(2048) }).strict(),
    result: MarketStatusSchema,
  },
} as const;
