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

// ---- the wallet service (electron/provider/wallet/service.ts) ----------------------------------

const TxHash = z
  .string()
  .regex(/^0x[0-9a-fA-F]{64}$/, 'A transaction hash is 0x and 64 hex digits');
const NoParams = z.object({}).strict();

/** A token as the wallet shows it; `address` null: the chain's gas token (ETH). */
export const TokenInfoSchema = z.object({
  address: Address.nullable(),
  symbol: z.string(),
  decimals: z.number().int().nonnegative(),
});
export type TokenInfo = z.infer<typeof TokenInfoSchema>;

/** An amount in a token's smallest unit, with the token beside it. */
export const WalletAmountSchema = z.object({ amount: AmountText, token: TokenInfoSchema });
export type WalletAmount = z.infer<typeof WalletAmountSchema>;

export const TxStateSchema = z.enum(['pending', 'confirmed', 'failed']);
export type TxState = z.infer<typeof TxStateSchema>;

/** One transaction this wallet sent. */
export const WalletTxSchema = z.object({
  hash: TxHash,
  kind: z.enum(['claim', 'withdraw', 'payout']),
  chainId: z.number().int().positive(),
  from: Address,
  /** Who receives it: the withdrawal's address, the hub for a claim or a payout change. */
  to: Address,
  /** What moved (a claim: what it collected; a payout change: nothing). */
  value: WalletAmountSchema.nullable(),
  state: TxStateSchema,
  sentAt: z.string(),
  settledAt: z.string().nullable(),
  blockNumber: z.number().int().nullable(),
  /** Why it failed, in words. */
  error: z.string().nullable(),
  /** The chain's block explorer page of this transaction, where the chain has one. */
  explorerUrl: z.string().nullable(),
});
export type WalletTx = z.infer<typeof WalletTxSchema>;

export const WalletAccountSchema = z.object({
  role: z.enum(['node', 'payout']),
  address: Address,
  /** node: the hot key; payout: the node key, a wallet kept here (created or imported), or an
   * external address. */
  kind: z.enum(['node-key', 'app-wallet', 'external']),
  /** Whether this app holds the account's key (it can withdraw from it). */
  managed: z.boolean(),
  /** Gas token then each earnings token; null while the chain is not set up or unreachable. */
  balances: z.array(WalletAmountSchema).nullable(),
});
export type WalletAccount = z.infer<typeof WalletAccountSchema>;

export const WalletStatusSchema = z.object({
  /** Why balances or earnings are missing (no chain set up, chain unreachable, key locked). */
  problem: z.string().nullable(),
  chainId: z.number().int().nullable(),
  hub: Address.nullable(),
  /** How the keys are kept at rest, in words. */
  protection: z.string().nullable(),
  node: WalletAccountSchema.nullable(),
  payout: WalletAccountSchema.nullable(),
  /** The payout address the hub has on chain for this node (null: unknown). */
  payoutOnChain: Address.nullable(),
  /** Per earnings token: every voucher's worth, what a claim collects now, collected, sent out. */
  earnings: z.array(
    z.object({
      token: TokenInfoSchema,
      earned: AmountText,
      claimable: AmountText,
      claimed: AmountText,
      withdrawn: AmountText,
    }),
  ),
  /**
   * Per payment channel (a gateway's payer, one token): what it promised, what a claim collects,
   * what was collected, and what is at risk (promised beyond its deposit; the payer leaving).
   */
  channels: z.array(ChannelEarningsSchema),
  transactions: z.array(WalletTxSchema),
});
export type WalletStatus = z.infer<typeof WalletStatusSchema>;

/** Token to withdraw: an earnings token's address, or 'gas' for the chain's own coin. */
const WithdrawParams = z
  .object({
    to: Address,
    token: z.union([Address, z.literal('gas')]).optional(),
    /** Smallest unit; absent: everything (for gas: everything but the fee). */
    amount: AmountText.optional(),
  })
  .strict();

export const WithdrawQuoteSchema = z.object({
  from: Address,
  to: Address,
  value: WalletAmountSchema,
  /** The balance the amount comes from. */
  available: WalletAmountSchema,
  gasLimit: AmountText,
  /** Estimated fee in the gas token (gas limit x fee per gas). */
  fee: WalletAmountSchema,
});
export type WithdrawQuote = z.infer<typeof WithdrawQuoteSchema>;

export const NewWalletSchema = z.object({
  /** The 12 words, shown once: they are not kept anywhere until the backup check passes. */
  words: z.array(z.string()),
  /** Which words (1-based positions) the backup check asks for. */
  check: z.array(z.number().int().min(1)),
  /** Identifies this creation for the check (a new call replaces it). */
  pendingId: z.string(),
  address: Address,
});
export type NewWallet = z.infer<typeof NewWalletSchema>;

/** The wallet calls of the provider API. */
export const walletContract = {
  /** Addresses, balances, earnings and the transaction history. */
  'wallet.status': { params: NoParams, result: WalletStatusSchema },
  /** A new payout wallet: the mnemonic once; nothing is saved until wallet.confirmBackup. */
  'wallet.create': { params: NoParams, result: NewWalletSchema },
  /** The backup check: the words at the asked positions; saves the wallet as the payout. */
  'wallet.confirmBackup': {
    params: z
      .object({
        pendingId: z.string(),
        words: z.record(z.string().regex(/^\d+$/), z.string().max(64)),
      })
      .strict(),
    result: WalletStatusSchema,
  },
  /** Imports a payout wallet from a mnemonic or a private key (never sent back). */
  'wallet.import': {
    params: z.union([
      z.object({ mnemonic: z.string().min(1).max(1000) }).strict(),
      z.object({ privateKey: z.string().min(1).max(200) }).strict(),
    ]),
    result: WalletStatusSchema,
  },
  /** Earnings go to an address this app holds no key for (null: back to the node key). */
  'wallet.setPayout': {
    params: z.object({ address: Address.nullable() }).strict(),
    result: WalletStatusSchema,
  },
  /** Claims everything claimable now (one transaction); waits for it to be mined. */
  'wallet.claim': { params: NoParams, result: z.object({ tx: WalletTxSchema.nullable() }) },
  /** What a withdrawal would send and cost, without sending it. */
  'wallet.withdrawQuote': { params: WithdrawParams, result: WithdrawQuoteSchema },
  /** Sends a withdrawal from the payout wallet (or the node key) and waits for it. */
  'wallet.withdraw': { params: WithdrawParams, result: z.object({ tx: WalletTxSchema }) },
  /** Earned / claimable / claimed per gateway and token, read from the node's own chain. */
  'wallet.earnings': { params: z.object({}).strict(), result: EarningsSchema },
} as const;
