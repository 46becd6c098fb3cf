// The gateway operator's wallet: the payer of every channel. On a server the key comes from the
// environment (IDLERIG_OPERATOR_KEY, a 0x private key); otherwise from an ethers encrypted JSON
// keystore (scrypt) whose passphrase is given or read from IDLERIG_OPERATOR_PASSPHRASE. The key
// stays in this process; errors say what to fix and never include the secret.
import { readFile } from 'node:fs/promises';
import writeFileAtomic from 'write-file-atomic';
import { Wallet, encryptKeystoreJson, isKeystoreJson, type Provider } from 'ethers';
import { IdlerigError } from '../../shared/errors';

export const OPERATOR_KEY_ENV = 'IDLERIG_OPERATOR_KEY';
export const OPERATOR_PASSPHRASE_ENV = 'IDLERIG_OPERATOR_PASSPHRASE';

export interface OperatorWalletOptions {
  env?: NodeJS.ProcessEnv;
  keystoreFile?: string;
  passphrase?: string;
  provider?: Provider;
}

export async function loadOperatorWallet(opts: OperatorWalletOptions = {}): Promise<Wallet> {
  const env = opts.env ?? process.env;
  const fromEnv = env[OPERATOR_KEY_ENV]?.trim();
  let wallet: Wallet;
  if (fromEnv) {
    if (!/^(0x)?[0-9a-fA-F]{64}$/.test(fromEnv)) {
      throw new IdlerigError(
        'KEY_UNREADABLE',
        `${OPERATOR_KEY_ENV} is not a private key (64 hex digits, optionally 0x-prefixed)`,
      );
    }
    try {
      wallet = new Wallet(fromEnv.startsWith('0x') ? fromEnv : `0x${fromEnv}`);
    } catch {
      throw new IdlerigError('KEY_UNREADABLE', `${OPERATOR_KEY_ENV} is not a valid secp256k1 key`);
    }
  } else if (opts.keystoreFile) {
    const passphrase = opts.passphrase ?? env[OPERATOR_PASSPHRASE_ENV];
    if (!passphrase) {
      throw new IdlerigError(
        'KEY_LOCKED',
        `The operator keystore needs its passphrase: set ${OPERATOR_PASSPHRASE_ENV}`,
      );
    }
    let text: string;
    try {
      text = await readFile(opts.keystoreFile, 'utf8');
    } catch (err) {
      throw new IdlerigError(
        'KEY_UNREADABLE',
        `Cannot read the operator keystore ${opts.keystoreFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
    }
    if (!isKeystoreJson(text)) {
      throw new IdlerigError('KEY_UNREADABLE', `${opts.keystoreFile} is not an encrypted keystore`);
    }
    try {
      const w = await Wallet.fromEncryptedJson(text, passphrase);
      wallet = new Wallet(w.privateKey);
    } catch {
      throw new IdlerigError(
        'KEY_UNREADABLE',
        `Cannot open the operator keystore: wrong passphrase or a damaged file`,
      );
    }
  } else {
    throw new IdlerigError(
      'KEY_LOCKED',
      `No operator wallet: set ${OPERATOR_KEY_ENV}, or give a keystore file and its passphrase`,
    );
  }
  return opts.provider ? wallet.connect(opts.provider) : wallet;
}

/** Creates a new operator key in an encrypted keystore (mode 0600); returns its address. */
export async function createOperatorKeystore(
  file: string,
  passphrase: string,
  opts: { scryptN?: number } = {},
): Promise<string> {
  if (passphrase.length < 8) {
    throw new IdlerigError('INVALID_PARAMS', 'The keystore passphrase needs at least 8 characters');
  }
  const w = Wallet.createRandom();
  const json = await encryptKeystoreJson(
    { address: w.address, privateKey: w.privateKey },
    passphrase,
    opts.scryptN ? { scrypt: { N: opts.scryptN } } : {},
  );
  await writeFileAtomic(file, json, { mode: 0o600, fsync: true });
  return w.address;
}
