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

/**
 * What a claim collected, "0.054053 IDLE", and when that is more than the dialog offered of its
 * token (jobs finished between the offer and the transaction), by how much.
 */
export function claimedText(value: WalletAmount, offered: readonly WalletAmount[]): string {
  const claimed = showAmount(value);
  const same = offered.find(
    (o) =>
      o.token.symbol === value.token.symbol &&
      (o.token.address ?? '').toLowerCase() === (value.token.address ?? '').toLowerCase(),
  );
  const more = same ? BigInt(value.amount) - BigInt(same.amount) : 0n;
  if (more <= 0n) return claimed;
  return `${claimed} (${showAmount({ amount: more.toString(), token: value.token })} of it earned after the offer)`;
}
