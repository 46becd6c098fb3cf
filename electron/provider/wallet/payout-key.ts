// The payout wallet kept by this app (data folder/payout-key.json): created here (its mnemonic
// shown once and checked back before anything is saved) or imported from a mnemonic or a private
// key. It is written exactly like the node key (node-key.ts writeKeyFile: safeStorage where the OS
// keychain is real, an ethers keystore under the passphrase otherwise), never in plain text. Only
// the private key is kept: the mnemonic exists in memory until the backup check, then nowhere.
// A key file being replaced is moved aside, never deleted: it may hold funds.
import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { copyFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { HDNodeWallet, Mnemonic, Wallet } from 'ethers';
import { IdlerigError } from '../../../shared/errors';
import { openKeyFile, writeKeyFile, type KeyProtection, type NodeKey } from './node-key';

export const PAYOUT_KEY_FILE = 'payout-key.json';
/** Words the backup check asks for. */
const CHECKED_WORDS = 3;
/** A created wallet waits this long for its backup check. */
const PENDING_MS = 30 * 60_000;

interface Pending {
  id: string;
  wallet: HDNodeWallet;
  check: number[];
  expires: number;
}

export interface NewPayoutWallet {
  words: string[];
  check: number[];
  pendingId: string;
  address: string;
}

export class PayoutKeyStore {
  private pending: Pending | null = null;
  private key: NodeKey | null = null;
  private loaded = false;
  private failure: IdlerigError | null = null;

  constructor(
    private readonly dataDir: string,
    private readonly protection: KeyProtection,
    private readonly now: () => Date = () => new Date(),
  ) {}

  get file(): string {
    return join(this.dataDir, PAYOUT_KEY_FILE);
  }

  /**
   * The kept payout wallet, opened on first use; null when there is none. A file that cannot be
   * opened is refused once (node-key.ts keeps a copy aside) and the same error given after that,
   * so a page polling the status does not copy it again and again.
   */
  async open(): Promise<NodeKey | null> {
    if (this.failure) throw this.failure;
    if (!this.loaded) {
      try {
        this.key = await openKeyFile(
          this.file,
          { protection: this.protection, now: this.now },
          'payout wallet key',
        );
      } catch (err) {
        // A missing passphrase may come later (a prompt, the environment): only a file problem sticks.
        if (err instanceof IdlerigError && err.code === 'KEY_UNREADABLE') this.failure = err;
        throw err;
      }
      this.loaded = true;
    }
    return this.key;
  }

  /** A new random wallet; nothing is written until confirm() gets the asked words back. */
  create(): NewPayoutWallet {
    const wallet = HDNodeWallet.createRandom();
    const words = wallet.mnemonic!.phrase.split(' ');
    const positions = new Set<number>();
    while (positions.size < CHECKED_WORDS) positions.add(randomInt(1, words.length + 1));
    const check = [...positions].sort((a, b) => a - b);
    this.pending = {
      id: randomBytes(16).toString('hex'),
      wallet,
      check,
      expires: this.now().getTime() + PENDING_MS,
    };
    return { words, check, pendingId: this.pending.id, address: wallet.address };
  }

  /**
   * The backup check: `words` maps each asked position (1-based) to the word the user wrote
   * down. On success the wallet is saved and the mnemonic forgotten; a wrong word says which.
   */
  async confirm(pendingId: string, words: Record<string, string>): Promise<NodeKey> {
    const p = this.pending;
    if (!p || !same(p.id, pendingId) || p.expires < this.now().getTime())
      throw new IdlerigError(
        'NOT_FOUND',
        'This new wallet is no longer waiting for its backup check; create it again',
      );
    const phrase = p.wallet.mnemonic!.phrase.split(' ');
    for (const pos of p.check) {
      const given = (words[String(pos)] ?? '').trim().toLowerCase();
      if (given !== phrase[pos - 1])
        throw new IdlerigError(
          'INVALID_PARAMS',
          `Word ${pos} does not match the recovery phrase; check your backup`,
          { position: pos },
        );
    }
    const key = await this.save(p.wallet.privateKey);
    this.pending = null;
    return key;
  }

  /** Imports a wallet from a mnemonic (BIP-39, the first account m/44'/60'/0'/0/0) or a key. */
  async importSecret(secret: { mnemonic: string } | { privateKey: string }): Promise<NodeKey> {
    let privateKey: string;
    if ('mnemonic' in secret) {
      const phrase = secret.mnemonic.trim().toLowerCase().split(/\s+/).join(' ');
      if (!Mnemonic.isValidMnemonic(phrase))
        throw new IdlerigError(
          'INVALID_PARAMS',
          'Not a valid recovery phrase (12 to 24 English BIP-39 words with a valid checksum)',
        );
      privateKey = HDNodeWallet.fromPhrase(phrase).privateKey;
    } else {
      const hex = secret.privateKey.trim();
      const k = /^(0x)?[0-9a-fA-F]{64}$/.test(hex) ? (hex.startsWith('0x') ? hex : `0x${hex}`) : '';
      try {
        privateKey = new Wallet(k).privateKey;
      } catch {
        throw new IdlerigError(
          'INVALID_PARAMS',
          'Not a valid private key (64 hex digits, with or without 0x)',
        );
      }
    }
    return this.save(privateKey);
  }

  private async save(privateKey: string): Promise<NodeKey> {
    const old = await this.open().catch((err: unknown) => {
      // Locked (no passphrase): nothing can be written either; unreadable: kept aside below.
      if (err instanceof IdlerigError && err.code === 'KEY_LOCKED') throw err;
      return 'unreadable' as const;
    });
    if (old === 'unreadable' || old !== null) {
      if (old !== 'unreadable' && old.address === new Wallet(privateKey).address) return old;
      const stamp = this.now().toISOString().replace(/[:.]/g, '-');
      await copyFile(this.file, `${this.file}.replaced-${stamp}`);
      await rm(this.file);
    }
    this.key = await writeKeyFile(this.file, privateKey, this.protection);
    this.loaded = true;
    this.failure = null;
    return this.key;
  }
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
