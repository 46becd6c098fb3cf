// Payment-channel vouchers and token amounts, shared by the gateway (payer), the provider node
// (payee), the contracts' client, the tray and the dashboard. Pure: no I/O, no ethers (the page
// imports the formatter). Signing and verification (ethers signTypedData / verifyTypedData) live
// on each side; this file holds the types, the domain and the values.
//
//   domain  { name: "IdlerigPaymentHub", version: "1", chainId, verifyingContract: the hub }
//   Voucher { payer address, provider address, token address, epoch uint32, cumulative uint256 }
//
// A voucher is cumulative: it names the total the payer owes the provider in the channel's epoch,
// so the latest one replaces every earlier one and a single claim collects all of it
// (contracts/src/PaymentHub.sol).
import { z } from 'zod';
import { IdlerigError } from './errors';

export const HUB_DOMAIN_NAME = 'IdlerigPaymentHub';
export const HUB_DOMAIN_VERSION = '1';

export interface HubDomain {
  name: string;
  version: string;
  chainId: bigint;
  verifyingContract: string;
}

/** The EIP-712 domain of a hub deployed at `hub` on chain `chainId`. */
export function hubDomain(chainId: bigint | number, hub: string): HubDomain {
  if (!ADDRESS.test(hub))
    throw new IdlerigError('INVALID_PARAMS', `Not a contract address: ${hub}`);
  return {
    name: HUB_DOMAIN_NAME,
    version: HUB_DOMAIN_VERSION,
    chainId: BigInt(chainId),
    verifyingContract: hub,
  };
}

/** The EIP-712 types, in the shape ethers' signTypedData / verifyTypedData take. */
export const VOUCHER_TYPES = {
  Voucher: [
    { name: 'payer', type: 'address' },
    { name: 'provider', type: 'address' },
    { name: 'token', type: 'address' },
    { name: 'epoch', type: 'uint32' },
    { name: 'cumulative', type: 'uint256' },
  ],
} as const satisfies Record<string, readonly { name: string; type: string }[]>;

/** A voucher's message, amounts as bigint. */
export interface Voucher {
  payer: string;
  provider: string;
  token: string;
  epoch: number;
  cumulative: bigint;
}

/** A channel as the hub stores it (one slot: see PaymentHub.Channel). */
export interface ChannelState {
  deposited: bigint;
  claimed: bigint;
  epoch: number;
  /** Unix seconds from which the payer may withdraw; 0: no unlock requested. */
  unlockAt: number;
}

/** What a voucher for `cumulative` pays on a channel in this state (the hub's own rule). */
export function claimableFrom(ch: ChannelState, v: Pick<Voucher, 'epoch' | 'cumulative'>): bigint {
  if (v.epoch !== ch.epoch) return 0n;
  const capped = v.cumulative < ch.deposited ? v.cumulative : ch.deposited;
  return capped > ch.claimed ? capped - ch.claimed : 0n;
}

export interface SignedVoucher extends Voucher {
  /** 65-byte secp256k1 signature, 0x-prefixed hex. */
  signature: string;
}

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const Address = z.string().regex(ADDRESS, 'an address: 0x and 40 hex digits');
const Decimal = z.string().regex(/^(0|[1-9]\d{0,77})$/, 'a decimal integer string');

/** A signed voucher on the wire (market frames, API): the amount as a decimal string. */
export const SignedVoucherWireSchema = z.object({
  /** Where the voucher is valid: the hub's chain and address (the domain). */
  chainId: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  hub: Address,
  payer: Address,
  provider: Address,
  token: Address,
  epoch: z.number().int().nonnegative().max(0xffffffff),
  cumulative: Decimal,
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/, 'a 65-byte hex signature'),
});
export type SignedVoucherWire = z.infer<typeof SignedVoucherWireSchema>;

export function voucherToWire(
  v: SignedVoucher,
  chainId: bigint | number,
  hub: string,
): SignedVoucherWire {
  return {
    chainId: Number(chainId),
    hub,
    payer: v.payer,
    provider: v.provider,
    token: v.token,
    epoch: v.epoch,
    cumulative: v.cumulative.toString(),
    signature: v.signature,
  };
}

/** Parses a wire voucher; a malformed one is an INVALID_PARAMS error that says which field. */
export function voucherFromWire(input: unknown): {
  chainId: number;
  hub: string;
  voucher: SignedVoucher;
} {
  const r = SignedVoucherWireSchema.safeParse(input);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new IdlerigError(
      'INVALID_PARAMS',
      `Malformed voucher: ${issue ? `${issue.path.join('.') || 'value'}: ${issue.message}` : 'invalid'}`,
    );
  }
  const w = r.data;
  return {
    chainId: w.chainId,
    hub: w.hub,
    voucher: {
      payer: w.payer,
      provider: w.provider,
      token: w.token,
      epoch: w.epoch,
      cumulative: BigInt(w.cumulative),
      signature: w.signature,
    },
  };
}

/** The EIP-712 message values of a voucher (what signTypedData takes). */
export function voucherValue(v: Voucher): Record<string, string | bigint | number> {
  return {
    payer: v.payer,
    provider: v.provider,
    token: v.token,
    epoch: v.epoch,
    cumulative: v.cumulative,
  };
}

/** Same channel (payer, provider, token): addresses compare case-insensitively. */
export function sameChannel(a: Voucher, b: Voucher): boolean {
  return (
    a.payer.toLowerCase() === b.payer.toLowerCase() &&
    a.provider.toLowerCase() === b.provider.toLowerCase() &&
    a.token.toLowerCase() === b.token.toLowerCase()
  );
}

// ---- token amounts ----------------------------------------------------------------------------

export interface FormatTokenOptions {
  /** BCP 47 locale for grouping and the decimal separator; default: the runtime's. */
  locale?: string;
  /** Most fraction digits shown (truncated, never rounded up); default 4. */
  maxFraction?: number;
}

/**
 * The one token-amount formatter (tray, dashboard, CLI): an amount in its smallest unit (bigint
 * or its decimal string) as "1,234.5678 USDC". Truncates to `maxFraction` digits (money is never
 * rounded up), drops trailing zeros, and says "< 0.0001" rather than "0" for a non-zero amount
 * too small to show.
 */
export function formatTokenAmount(
  amount: bigint | string,
  decimals: number,
  symbol: string,
  opts: FormatTokenOptions = {},
): string {
  if (typeof amount === 'string' && !/^\d+$/.test(amount)) {
    throw new RangeError(`Not an amount in smallest units: ${amount}`);
  }
  const units = BigInt(amount);
  if (units < 0n) throw new RangeError(`Not an amount in smallest units: ${amount}`);
  const maxFraction = Math.max(0, Math.trunc(opts.maxFraction ?? 4));
  const places = Math.max(0, Math.trunc(decimals));
  const scale = 10n ** BigInt(places);
  const whole = units / scale;
  const fractionDigits = places === 0 ? '' : (units % scale).toString().padStart(places, '0');
  const shown = fractionDigits.slice(0, maxFraction).replace(/0+$/, '');
  const number = new Intl.NumberFormat(opts.locale, { useGrouping: true });
  const separator = number.formatToParts(1.5).find((part) => part.type === 'decimal')?.value ?? '.';
  const suffix = symbol ? ` ${symbol}` : '';
  if (units > 0n && whole === 0n && shown === '') {
    const smallest =
      maxFraction === 0 ? '1' : `${number.format(0)}${separator}${'0'.repeat(maxFraction - 1)}1`;
    return `< ${smallest}${suffix}`;
  }
  const wholeText = number.format(whole);
  return `${shown ? `${wholeText}${separator}${shown}` : wholeText}${suffix}`;
}

/**
 * "12.5" in a token with `decimals` decimals -> its smallest unit (12500000n for 6 decimals).
 * Accepts digits with one optional "." (no sign, exponent, grouping or more fraction digits than
 * the token has); anything else is an INVALID_PARAMS error saying why.
 */
export function parseTokenAmount(text: string, decimals: number): bigint {
  const places = Math.max(0, Math.trunc(decimals));
  const t = text.trim();
  const m = /^(\d*)(?:\.(\d*))?$/.exec(t);
  if (!m || t === '' || t === '.' || (m[1] === '' && (m[2] ?? '') === '')) {
    throw new IdlerigError('INVALID_PARAMS', `Not an amount: "${text}" (write digits, e.g. 12.5)`);
  }
  const frac = m[2] ?? '';
  if (frac.length > places) {
    throw new IdlerigError(
      'INVALID_PARAMS',
      places === 0
        ? `This token has no decimals: "${text}"`
        : `At most ${places} decimals for this token: "${text}"`,
    );
  }
  return BigInt(m[1] || '0') * 10n ** BigInt(places) + BigInt(frac.padEnd(places, '0') || '0');
}

// ---- the hub as the provider node calls it -----------------------------------------------------

/**
 * The hub functions the provider node uses, as a human-readable ABI: the node never imports
 * contracts/ (DESIGN.md boundaries). test/unit/payments-shared.test.ts checks every entry against
 * the compiled ABI in contracts/generated/PaymentHub.ts.
 */
export const HUB_PROVIDER_ABI = [
  'function channel(address payer, address provider, address token) view returns (tuple(uint96 deposited, uint96 claimed, uint32 epoch, uint32 unlockAt))',
  'function claimable(address payer, address provider, address token, uint32 epoch, uint256 cumulative) view returns (uint256)',
  'function payoutOf(address provider) view returns (address)',
  'function unlockDelay() view returns (uint256)',
  'function claim(address payer, address provider, address token, uint32 epoch, uint256 cumulative, bytes signature) returns (uint256)',
  'function claimBatch(tuple(address payer, address provider, address token, uint32 epoch, uint256 cumulative, bytes signature)[] vouchers) returns (uint256)',
  'function setPayout(address payout)',
  'event Claimed(address indexed payer, address indexed provider, address indexed token, uint32 epoch, uint256 amount, uint256 claimed, address payout)',
  'event UnlockRequested(address indexed payer, address indexed provider, address indexed token, uint32 epoch, uint256 unlockAt)',
  'error WrongEpoch(uint32 given, uint32 current)',
  'error WrongSigner(address signer, address payer)',
  'error ReentrancyGuardReentrantCall()',
] as const;
