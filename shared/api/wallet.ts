// The wallet as the provider's API shows it: the node key, the payout address, the payment
// channels and their vouchers (settings.json `wallet`, version 5).
import { z } from 'zod';

const Address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, 'An address is 0x followed by 40 hex digits');
const AmountText = z
  .string()
  .regex(/^(0|[1-9]\d{0,77})$/, "A whole number of the token's smallest unit");

export const ChainSettingsSchema = z.object({
  rpcUrl: z
    .string()
    .regex(/^(https?|wss?):\/\/\S+$/, 'An RPC URL starts with http(s):// or ws(s)://'),
  chainId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  hub: Address,
});
export type ChainSettings = z.infer<typeof ChainSettingsSchema>;

export const WalletSettingsSchema = z.object({
  /** Where claimed earnings go; null: the node key's own address. */
  payoutAddress: z
    .string()
    .regex(/^0x[0-9a-fA-F]{40}$/, 'An address is 0x followed by 40 hex digits')
    .nullable(),
  /**
   * The chain this node is paid on: its own RPC and the pinned hub contract. Vouchers are checked
   * against this, never against what a gateway says. null: not set up (vouchers are refused).
   */
  chain: ChainSettingsSchema.nullable(),
  /** Most earned-but-unclaimed per gateway and token (smallest unit); null: the lock only. */
  creditLimit: AmountText.nullable(),
  /** Claim at once when the unclaimed total of a token reaches this; null: never for that. */
  claimThreshold: AmountText.nullable(),
  /** Claim whatever is unclaimed this often (hours); null: no schedule. */
  claimEveryHours: z
    .number()
    .positive()
    .max(24 * 365)
    .nullable(),
});
export type WalletSettings = z.infer<typeof WalletSettingsSchema>;

export const WalletSettingsPatchSchema = WalletSettingsSchema.strict().partial();

export function defaultWalletSettings(): WalletSettings {
  return {
    payoutAddress: null,
    chain: null,
    creditLimit: null,
    claimThreshold: null,
    claimEveryHours: 24,
  };
}

/** Earnings of one channel: one gateway (payer) in one token, amounts in its smallest unit. */
export const ChannelEarningsSchema = z.object({
  gateway: z.string().nullable(),
  payer: Address,
  token: z.object({ address: Address, symbol: z.string(), decimals: z.number().int() }),
  epoch: z.number().int().nonnegative(),
  /** Every voucher's worth: what the gateway has promised in all (all epochs). */
  earned: AmountText,
  /** What one claim would collect now. */
  claimable: AmountText,
  /** Collected on chain to the payout address. */
  claimed: AmountText,
  /** Earned but neither claimable nor claimed (a voucher beyond what is locked). */
  unbacked: AmountText,
  /** What the payer has locked in this channel. */
  locked: AmountText,
  /** The payer asked to leave: its remainder is withdrawable from this time (unix s). */
  unlockAt: z.number().int().nullable(),
  latestVoucherAt: z.string(),
});
export type ChannelEarnings = z.infer<typeof ChannelEarningsSchema>;

export const EarningsSchema = z.object({
  /** Why nothing can be paid (no chain set up, the chain unreachable); null when fine. */
  problem: z.string().nullable(),
  chain: ChainSettingsSchema.nullable(),
  /** This node's address (the provider of every channel); null before the key is open. */
  provider: Address.nullable(),
  channels: z.array(ChannelEarningsSchema),
  /** The latest claim the node sent (the watchtower's or the user's). */
  lastClaim: z
    .object({
      at: z.string(),
      reason: z.enum(['unlock', 'threshold', 'schedule', 'manual']),
      txHash: z.string(),
      amount: AmountText,
      channels: z.number().int(),
    })
    .nullable(),
});
export type Earnings = z.infer<typeof EarningsSchema>;

/** The wallet calls of the provider API. */
export const walletContract = {
  /** Earned / claimable / claimed per gateway and token, read from the node's own chain. */
  'wallet.earnings': { params: z.object({}).strict(), result: EarningsSchema },
} as const;
