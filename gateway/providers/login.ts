// Provider login: each connection's hello carries a fresh single-use nonce; the provider answers
// with an EIP-4361 message bound to this gateway's origin, chain id and that nonce, signed by its
// node key. Refused: a message that does not parse, a wrong domain/chain/nonce, a nonce used
// before, a message that expired (or has no expiry), a signature that does not recover the
// message's address.
import { randomBytes } from 'node:crypto';
import { getAddress, verifyMessage } from 'ethers';
import type { LoginRefusal } from '../../shared/market-protocol';
import { checkSiweMessage, parseSiweMessage } from '../../shared/siwe';

export type LoginResult =
  { ok: true; address: string } | { ok: false; code: LoginRefusal; message: string };

/** Issued and used nonces. Used ones are remembered long enough to outlive any login's expiry. */
export class NonceBook {
  private readonly used = new Map<string, number>();

  constructor(
    private readonly rememberMs = 24 * 3_600_000,
    private readonly maxRemembered = 1_000_000,
  ) {}

  issue(): string {
    return randomBytes(16).toString('hex');
  }

  /** Marks a nonce used; false when it was used before. */
  consume(nonce: string, now: number): boolean {
    if (this.used.has(nonce)) return false;
    this.used.set(nonce, now + this.rememberMs);
    if (this.used.size > this.maxRemembered) this.sweep(now, true);
    return true;
  }

  isUsed(nonce: string): boolean {
    return this.used.has(nonce);
  }

  sweep(now: number, force = false): void {
    for (const [n, until] of this.used) {
      if (until < now || (force && this.used.size > this.maxRemembered / 2)) this.used.delete(n);
    }
  }
}

export function verifyLogin(
  frame: { message: string; signature: string },
  expected: { origin: string; chainId: number; nonce: string; nowMs: number },
  nonces: NonceBook,
): LoginResult {
  const parsed = parseSiweMessage(frame.message);
  if (!parsed.ok)
    return { ok: false, code: 'MALFORMED', message: `Login message: ${parsed.error}` };
  const m = parsed.message;
  if (m.nonce !== expected.nonce && nonces.isUsed(m.nonce)) {
    return { ok: false, code: 'NONCE_REPLAYED', message: 'This login nonce was already used' };
  }
  const failure = checkSiweMessage(m, expected);
  if (failure) {
    const words: Record<typeof failure, string> = {
      WRONG_DOMAIN: `The login is for ${m.uri}, not ${expected.origin}`,
      WRONG_CHAIN: `The login is for chain ${m.chainId}, not ${expected.chainId}`,
      WRONG_NONCE: 'The login does not carry the nonce this connection was given',
      EXPIRED: 'The login message expired (or has no expiration time)',
      NOT_YET_VALID: 'The login message is not valid yet',
    };
    return { ok: false, code: failure, message: words[failure] };
  }
  let signer: string;
  try {
    signer = verifyMessage(frame.message, frame.signature);
  } catch {
    return { ok: false, code: 'BAD_SIGNATURE', message: 'The login signature is not valid' };
  }
  let address: string;
  try {
    address = getAddress(m.address);
  } catch {
    return { ok: false, code: 'MALFORMED', message: 'The login address is not valid' };
  }
  if (signer !== address) {
    return { ok: false, code: 'BAD_SIGNATURE', message: 'The login is not signed by its address' };
  }
  if (!nonces.consume(m.nonce, expected.nowMs)) {
    return { ok: false, code: 'NONCE_REPLAYED', message: 'This login nonce was already used' };
  }
  return { ok: true, address };
}
