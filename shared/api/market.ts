// The market as the provider's API shows it: the gateways the node connects to (settings.json
// `network`, version 5), their state, and what the node shares with them. The wire protocol
// between provider and gateway is in shared/market-protocol.ts.
import { z } from 'zod';

/**
 * A gateway URL as the gateway prints it (`http://127.0.0.1:N`) or its WebSocket endpoint.
 * Plain http/ws only to loopback; anywhere else https/wss.
 */
export const GatewayUrlSchema = z
  .string()
  .trim()
  .min(1, 'Enter the gateway URL')
  .max(2048, 'The URL is too long');

export const NetworkSettingsSchema = z.object({
  /** The gateways this node connects to. */
  gateways: z.array(z.object({ url: GatewayUrlSchema })).max(16, 'At most 16 gateways'),
});
export type NetworkSettings = z.infer<typeof NetworkSettingsSchema>;

export const NetworkSettingsPatchSchema = NetworkSettingsSchema.strict().partial();

export function defaultNetworkSettings(): NetworkSettings {
  return { gateways: [] };
}

/** The market calls of the provider API (filled by the market client's issue). */
export const marketContract = {} as const;
