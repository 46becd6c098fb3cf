// How the wallet shows amounts: the one shared formatter, with 6 decimals (a wallet shows cents
// of a cent; the dashboard's 2 decimals would hide small earnings).
import type { WalletAmount } from '../../../../shared/api';
import { formatTokenAmount } from '../../../../shared/payments';

export function showAmount(a: WalletAmount): string {
  return formatTokenAmount(a.amount, a.token.decimals, a.token.symbol, { maxFraction: 6 });
}

/** "0x1234…abcd" for tight places; the full address stays in the title and the copy button. */
export function shortAddress(address: string): string {
  return `${address.slice(0, 6)}…${address.slice(-4)}`;
}
