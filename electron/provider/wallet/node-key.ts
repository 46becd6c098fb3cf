// The node key: the provider's hot secp256k1 key (ethers v6). It signs the gateway logins (SIWE)
// and the job receipts (EIP-712), and later pays gas for claims, so it can hold money: it is
// generated once, never stored in plain text, and never silently replaced.
//
// At rest (data folder/node-key.json):
// - Electron with a real OS keychain: the private key encrypted by safeStorage, which the shell
//   passes in as a `SecretBox` (this module never imports Electron);
// - headless: a standard Web3 Secret Storage (ethers keystore) file, scrypt + AES-128-CTR, under a
//   passphrase from IDLERIG_KEY_PASSPHRASE, a --key-passphrase-file, or a prompt on a terminal.
//
// A file that cannot be opened is kept where it is and copied aside; the node refuses to start
// the market with a new key and says what to do, because the old key may hold funds.
import { copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  Wallet,
  decryptKeystoreJson,
  encryptKeystoreJson,
  isKeystoreJson,
  type Provider,
  type Signer,
  type TypedDataDomain,
  type TypedDataField,
} from 'ethers';
import { IdlerigError } from '../../../shared/errors';
import { writeFileAtomic } from '../util/atomic-write';

/** What the market client (and later the wallet) signs with. */
export interface NodeKey {
  readonly address: string;
  /** How the key is kept at rest, in words for the Settings page. */
  readonly protection: string;
  signMessage(message: string | Uint8Array): Promise<string>;
  signTypedData(
    domain: TypedDataDomain,
    types: Record<string, TypedDataField[]>,
    value: Record<string, unknown>,
  ): Promise<string>;
  /** A signer on `provider` that sends this key's transactions (claims; it pays their gas). */
  signer(provider: Provider): Signer;
}

/** Electron's safeStorage, as the shell hands it over. */
export interface SecretBox {
  encrypt(plain: string): Uint8Array;
  decrypt(cipher: Uint8Array): string;
}

export type KeyProtection =
  | { kind: 'safeStorage'; box: SecretBox }
  | {
      kind: 'passphrase';
      /** Returns the passphrase; `creating` is true when a new key is about to be encrypted. */
      passphrase: (creating: boolean) => Promise<string>;
      /** scrypt cost of a new keystore (ethers' default 2^17); existing files carry their own. */
      scryptN?: number;
    };

export interface NodeKeyOptions {
  dataDir: string;
  protection: KeyProtection;
  now?: () => Date;
}

export interface NodeKeyLoad {
  key: NodeKey;
  created: boolean;
  /** An empty file found in place of the key, kept under this name (nothing could be lost). */
  emptyFileKeptAs: string | null;
}

export const NODE_KEY_FILE = 'node-key.json';
const SAFE_FORMAT = 'idlerig-node-key-safestorage';

interface SafeFile {
  format: typeof SAFE_FORMAT;
  version: 1;
  address: string;
  /** base64 of safeStorage.encryptString(private key hex). */
  ciphertext: string;
}

export function nodeKeyPath(dataDir: string): string {
  return join(dataDir, NODE_KEY_FILE);
}

function wrap(wallet: Wallet, protection: string): NodeKey {
  return {
    address: wallet.address,
    protection,
    signMessage: (m) => wallet.signMessage(m),
    signTypedData: (d, t, v) => wallet.signTypedData(d, t, v),
    signer: (provider) => wallet.connect(provider),
  };
}

function describe(p: KeyProtection): string {
  return p.kind === 'safeStorage'
    ? "Encrypted with your system's keychain"
    : 'Encrypted keystore file (passphrase)';
}

/**
 * Opens the node key in the data folder, or creates one when there is none (or only an empty
 * file). Errors are IdlerigErrors with one line for the user: KEY_LOCKED (no passphrase or
 * keychain), KEY_UNREADABLE (wrong passphrase, damaged file: kept, not replaced).
 */
export async function loadOrCreateNodeKey(opts: NodeKeyOptions): Promise<NodeKeyLoad> {
  const path = nodeKeyPath(opts.dataDir);
  let text: string | null;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new IdlerigError(
        'KEY_UNREADABLE',
        `The node key file ${path} cannot be read: ${(err as Error).message}`,
      );
    }
    text = null;
  }
  let emptyFileKeptAs: string | null = null;
  if (text !== null && text.trim() === '') {
    // An empty file held no key: nothing can be lost by creating one. Keep it aside anyway.
    emptyFileKeptAs = await keepAside(path, 'empty', opts.now);
    text = null;
  }
  if (text === null) {
    const key = await create(path, opts.protection);
    return { key, created: true, emptyFileKeptAs };
  }
  return { key: await open(path, text, opts), created: false, emptyFileKeptAs };
}

async function create(path: string, protection: KeyProtection): Promise<NodeKey> {
  return writeKeyFile(path, Wallet.createRandom().privateKey, protection);
}

/**
 * Writes `privateKey` to a new key file at `path`, protected like the node key (the wallet's
 * payout key reuses this); refuses to overwrite a non-empty file.
 */
export async function writeKeyFile(
  path: string,
  privateKey: string,
  protection: KeyProtection,
): Promise<NodeKey> {
  const plain = new Wallet(privateKey);
  let data: string;
  if (protection.kind === 'safeStorage') {
    const file: SafeFile = {
      format: SAFE_FORMAT,
      version: 1,
      address: plain.address,
      ciphertext: Buffer.from(protection.box.encrypt(plain.privateKey)).toString('base64'),
    };
    data = `${JSON.stringify(file, null, 2)}\n`;
  } else {
    const passphrase = await protection.passphrase(true);
    if (passphrase.length === 0)
      throw new IdlerigError('KEY_LOCKED', 'The node key passphrase must not be empty');
    data = await encryptKeystoreJson(
      { address: plain.address, privateKey: plain.privateKey },
      passphrase,
      { scrypt: { N: protection.scryptN ?? 1 << 17 } },
    );
  }
  // `wx`-like safety: never overwrite a key another process wrote meanwhile.
  const again = await readFile(path, 'utf8').catch(() => null);
  if (again !== null && again.trim() !== '')
    throw new IdlerigError('CONFLICT', `A node key appeared in ${path} while creating one`);
  await writeFileAtomic(path, data, 0o600);
  return wrap(plain, describe(protection));
}

async function open(
  path: string,
  text: string,
  opts: NodeKeyOptions,
  what = 'node key',
): Promise<NodeKey> {
  const p = opts.protection;
  const refuse = async (problem: string): Promise<never> => {
    const copy = await keepAside(path, 'unreadable', opts.now);
    throw new IdlerigError(
      'KEY_UNREADABLE',
      `The ${what} in ${path} ${problem}. It was left in place (a copy is in ${copy}) and no new key was made, because the old one may hold funds: restore the file from a backup, or move it away to start with a new key.`,
    );
  };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return refuse('is damaged (not JSON)');
  }
  if (isSafeFile(json)) {
    if (p.kind !== 'safeStorage')
      throw new IdlerigError(
        'KEY_LOCKED',
        `The ${what} in ${path} is protected by the desktop app's keychain; start the desktop app, or use another data folder for the headless node`,
      );
    let privateKey: string;
    try {
      privateKey = p.box.decrypt(Buffer.from(json.ciphertext, 'base64'));
    } catch (err) {
      return refuse(`cannot be decrypted by your system's keychain (${(err as Error).message})`);
    }
    const wallet = walletOf(privateKey);
    if (!wallet || wallet.address.toLowerCase() !== json.address.toLowerCase())
      return refuse("does not decrypt to the key it names (the keychain's key changed?)");
    return wrap(wallet, describe(p));
  }
  if (isKeystoreJson(text)) {
    if (p.kind !== 'passphrase')
      throw new IdlerigError(
        'KEY_LOCKED',
        `The ${what} in ${path} is a passphrase keystore; set IDLERIG_KEY_PASSPHRASE to open it`,
      );
    const passphrase = await p.passphrase(false);
    let account;
    try {
      account = await decryptKeystoreJson(text, passphrase);
    } catch (err) {
      const message = (err as Error).message;
      if (/incorrect password/i.test(message))
        throw new IdlerigError('KEY_UNREADABLE', `Wrong passphrase for the ${what} in ${path}`);
      return refuse(`is damaged (${message.split(' (')[0]})`);
    }
    const wallet = walletOf(account.privateKey);
    if (!wallet) return refuse('holds no valid private key');
    return wrap(wallet, describe(p));
  }
  return refuse(`is not a ${what} file this app knows`);
}

/** Opens a key file written by writeKeyFile (or the node key); null when there is none. */
export async function openKeyFile(
  path: string,
  opts: Pick<NodeKeyOptions, 'protection' | 'now'>,
  /** What the key is, in the user's words for errors ("payout wallet key"). */
  what = 'node key',
): Promise<NodeKey | null> {
  const text = await readFile(path, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw new IdlerigError('KEY_UNREADABLE', `The key file ${path} cannot be read: ${err.message}`);
  });
  if (text === null || text.trim() === '') return null;
  return open(path, text, { dataDir: '', ...opts }, what);
}

function isSafeFile(v: unknown): v is SafeFile {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (
    o.format === SAFE_FORMAT &&
    o.version === 1 &&
    typeof o.address === 'string' &&
    typeof o.ciphertext === 'string'
  );
}

function walletOf(privateKey: string): Wallet | null {
  try {
    return new Wallet(privateKey);
  } catch {
    return null;
  }
}

async function keepAside(
  path: string,
  why: string,
  now: () => Date = () => new Date(),
): Promise<string> {
  const stamp = now().toISOString().replace(/[:.]/g, '-');
  const copy = `${path}.${why}-${stamp}`;
  await copyFile(path, copy);
  return copy;
}

export interface PassphraseSources {
  env?: NodeJS.ProcessEnv;
  /** --key-passphrase-file: the first line of this file. */
  file?: string;
  /** Ask on the terminal when nothing else gives one (only where stdin and stderr are TTYs). */
  prompt?: boolean;
}

/**
 * The passphrase in a --key-passphrase-file: its first line. A file that cannot be read, or whose
 * first line is empty, is a KEY_LOCKED error naming the file (the headless start checks it first).
 */
export async function readPassphraseFile(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new IdlerigError(
      'KEY_LOCKED',
      `Cannot read the passphrase file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  const line = text.split(/\r?\n/)[0] ?? '';
  if (!line) throw new IdlerigError('KEY_LOCKED', `The passphrase file ${file} is empty`);
  return line;
}

/** The headless node's passphrase: the environment, a file, or a prompt, in that order. */
export function headlessPassphrase(
  src: PassphraseSources = {},
): (creating: boolean) => Promise<string> {
  let cached: string | null = null;
  return async (creating) => {
    if (cached !== null) return cached;
    const env = src.env ?? process.env;
    if (env.IDLERIG_KEY_PASSPHRASE) return (cached = env.IDLERIG_KEY_PASSPHRASE);
    if (src.file) return (cached = await readPassphraseFile(src.file));
    if ((src.prompt ?? true) && process.stdin.isTTY && process.stderr.isTTY) {
      const first = await promptHidden(
        creating
          ? 'New passphrase for the node key (it encrypts the key file): '
          : 'Passphrase of the node key: ',
      );
      if (creating && (await promptHidden('Repeat the passphrase: ')) !== first)
        throw new IdlerigError('KEY_LOCKED', 'The two passphrases differ');
      return (cached = first);
    }
    throw new IdlerigError(
      'KEY_LOCKED',
      'The node key needs a passphrase: set IDLERIG_KEY_PASSPHRASE, pass --key-passphrase-file FILE, or start idlerig in a terminal to type it',
    );
  };
}

function promptHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    let value = '';
    const done = (err: Error | null): void => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: string): void => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done(null);
        if (ch === '\u0003')
          return done(new IdlerigError('KEY_LOCKED', 'No passphrase given (Ctrl-C)'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}
