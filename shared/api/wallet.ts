// The wallet as the provider's API shows it: the node key, the payout address, the payment
// channels and their vouchers (settings.json `wallet`, version 5).
import { z } from 'zod';

export const WalletSettingsSchema = z.object({
  /** Where claimed earnings go; null: the node key's own address. */
  payoutAddress: z
    .string()
    .regex(/^0x[0-9a-fA-F]{40}$/, 'An address is 0x followed by 40 hex digits')
    .nullable(),
});
export type WalletSettings = z.infer<typeof WalletSettingsSchema>;

export const WalletSettingsPatchSchema = WalletSettingsSchema.strict().partial();

export function defaultWalletSettings(): WalletSettings {
  return { payoutAddress: null };
}

/** The wallet calls of the provider API (filled by the payments issue). */
export const walletContract = {} as const;
