// The node key at rest: encrypted (never the private key in the file), the same key after a
// restart, a wrong passphrase or a damaged file refused with one clear line and the file kept,
// an empty file kept aside and replaced (it held nothing), no passphrase → a clear error.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TypedDataEncoder, verifyMessage, verifyTypedData, Wallet } from 'ethers';
import {
  headlessPassphrase,
  loadOrCreateNodeKey,
  nodeKeyPath,
  type KeyProtection,
} from '../../electron/provider/wallet/node-key';
import { tempDir } from '../helpers/tmp';
import { fakeKeychain } from '../helpers/fake-keychain';
import { errorOf } from '../helpers/errors';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

async function dir(): Promise<string> {
  const t = await tempDir('idlerig-key-');
  cleanups.push(t.cleanup);
  return t.dir;
}

// A low scrypt cost keeps the suite fast; the file format and cipher are the standard ones.
const pass = (p: string): KeyProtection => ({
  kind: 'passphrase',
  passphrase: async () => p,
  scryptN: 1 << 10,
});

describe('node key, headless keystore', () => {
  it('is created on first run, encrypted at rest, and the same key after a restart', async () => {
    const d = await dir();
    const first = await loadOrCreateNodeKey({ dataDir: d, protection: pass('correct horse') });
    expect(first.created).toBe(true);
    expect(first.key.address).toMatch(/^0x[0-9a-fA-F]{40}$/);

    const text = await readFile(nodeKeyPath(d), 'utf8');
    const json = JSON.parse(text) as { crypto?: unknown; Crypto?: unknown };
    expect(json.crypto ?? json.Crypto).toBeTruthy();
    // Nothing in the file opens the key without the passphrase.
    const wallet = await Wallet.fromEncryptedJson(text, 'correct horse');
    expect(wallet.address).toBe(first.key.address);
    expect(text.toLowerCase()).not.toContain(wallet.privateKey.slice(2).toLowerCase());

    const again = await loadOrCreateNodeKey({ dataDir: d, protection: pass('correct horse') });
    expect(again.created).toBe(false);
    expect(again.key.address).toBe(first.key.address);

    // It signs as its address: personal messages (SIWE) and EIP-712 data (receipts).
    const sig = await again.key.signMessage('hello gateway');
    expect(verifyMessage('hello gateway', sig)).toBe(first.key.address);
    const domain = { name: 'Idlerig', version: '1', chainId: 31337 };
    const types = { Ping: [{ name: 'n', type: 'uint256' }] };
    const typed = await again.key.signTypedData(domain, types, { n: 7n });
    expect(verifyTypedData(domain, types, { n: 7n }, typed)).toBe(first.key.address);
    expect(TypedDataEncoder.hash(domain, types, { n: 7n })).toMatch(/^0x/);
  });

  it('uses the standard keystore cost by default (scrypt N = 2^17)', async () => {
    const d = await dir();
    await loadOrCreateNodeKey({
      dataDir: d,
      protection: { kind: 'passphrase', passphrase: async () => 'p' },
    });
    const json = JSON.parse(await readFile(nodeKeyPath(d), 'utf8')) as {
      Crypto: { kdf: string; kdfparams: { n: number } };
    };
    expect(json.Crypto.kdf).toBe('scrypt');
    expect(json.Crypto.kdfparams.n).toBe(131072);
  }, 60_000);

  it('a wrong passphrase is a one-line KEY_UNREADABLE error and the file is unchanged', async () => {
    const d = await dir();
    await loadOrCreateNodeKey({ dataDir: d, protection: pass('right') });
    const before = await readFile(nodeKeyPath(d), 'utf8');
    const err = await errorOf(loadOrCreateNodeKey({ dataDir: d, protection: pass('wrong') }));
    expect(err.code).toBe('KEY_UNREADABLE');
    expect(err.message).toMatch(/^Wrong passphrase for the node key in /);
    expect(err.message).not.toContain('\n');
    expect(await readFile(nodeKeyPath(d), 'utf8')).toBe(before);
  });

  it('an empty file held no key: it is kept aside and a new key is made', async () => {
    const d = await dir();
    await writeFile(nodeKeyPath(d), '');
    const r = await loadOrCreateNodeKey({ dataDir: d, protection: pass('p') });
    expect(r.created).toBe(true);
    expect(r.emptyFileKeptAs).toMatch(/node-key\.json\.empty-/);
    expect(await readFile(r.emptyFileKeptAs!, 'utf8')).toBe('');
    expect((await loadOrCreateNodeKey({ dataDir: d, protection: pass('p') })).key.address).toBe(
      r.key.address,
    );
  });

  it.each([
    ['half-written JSON', '{"address":"3f1c0a", "crypto": {"cipher'],
    ['garbage', '\u0000\u0001 not a key'],
    ['JSON that is no key', '{"hello": "world"}'],
  ])('a damaged file (%s) is refused, never replaced, and a copy kept aside', async (_, body) => {
    const d = await dir();
    await writeFile(nodeKeyPath(d), body);
    for (let i = 0; i < 2; i++) {
      const err = await errorOf(loadOrCreateNodeKey({ dataDir: d, protection: pass('p') }));
      expect(err.code).toBe('KEY_UNREADABLE');
      expect(err.message).toMatch(/no new key was made, because the old one may hold funds/);
      expect(await readFile(nodeKeyPath(d), 'utf8')).toBe(body);
    }
    const copies = (await readdir(d)).filter((f) => f.startsWith('node-key.json.unreadable-'));
    expect(copies.length).toBeGreaterThanOrEqual(1);
    expect(await readFile(join(d, copies[0]!), 'utf8')).toBe(body);
  });

  it('a keystore whose ciphertext was altered is refused and left as it is', async () => {
    const d = await dir();
    await loadOrCreateNodeKey({ dataDir: d, protection: pass('p') });
    const json = JSON.parse(await readFile(nodeKeyPath(d), 'utf8')) as {
      Crypto: { ciphertext: string };
    };
    const c = json.Crypto.ciphertext;
    json.Crypto.ciphertext = (c[0] === 'a' ? 'b' : 'a') + c.slice(1);
    const altered = JSON.stringify(json);
    await writeFile(nodeKeyPath(d), altered);
    const err = await errorOf(loadOrCreateNodeKey({ dataDir: d, protection: pass('p') }));
    // A changed ciphertext fails the MAC exactly like a wrong passphrase (the keystore format
    // cannot tell them apart): refused either way, and the file is not replaced.
    expect(err.code).toBe('KEY_UNREADABLE');
    expect(await readFile(nodeKeyPath(d), 'utf8')).toBe(altered);
  });
});

describe('node key passphrase sources', () => {
  it('no environment, no file, no terminal: a clear KEY_LOCKED line naming the three ways', async () => {
    const get = headlessPassphrase({ env: {}, prompt: false });
    const err = await errorOf(get(true));
    expect(err.code).toBe('KEY_LOCKED');
    expect(err.message).toBe(
      'The node key needs a passphrase: set IDLERIG_KEY_PASSPHRASE, pass --key-passphrase-file FILE, or start idlerig in a terminal to type it',
    );
  });

  it('takes IDLERIG_KEY_PASSPHRASE first, then the first line of --key-passphrase-file', async () => {
    const d = await dir();
    const file = join(d, 'pass.txt');
    await writeFile(file, 'from-file\nsecond line\n');
    expect(await headlessPassphrase({ env: { IDLERIG_KEY_PASSPHRASE: 'env' }, file })(false)).toBe(
      'env',
    );
    expect(await headlessPassphrase({ env: {}, file })(false)).toBe('from-file');
    const missing = await errorOf(headlessPassphrase({ env: {}, file: join(d, 'nope') })(false));
    expect(missing.code).toBe('KEY_LOCKED');
    expect(missing.message).toMatch(/Cannot read the passphrase file .*nope: ENOENT/);
  });
});

describe('node key under Electron (FAKE safeStorage: no Electron binary here)', () => {
  it('is encrypted by the keychain, reopens with it, and a keychain that cannot open it is refused', async () => {
    const d = await dir();
    const box = fakeKeychain();
    const first = await loadOrCreateNodeKey({
      dataDir: d,
      protection: { kind: 'safeStorage', box },
    });
    expect(first.key.protection).toBe("Encrypted with your system's keychain");
    const text = await readFile(nodeKeyPath(d), 'utf8');
    const file = JSON.parse(text) as { address: string; ciphertext: string };
    expect(file.address).toBe(first.key.address);
    const privateKey = box.decrypt(Buffer.from(file.ciphertext, 'base64'));
    expect(new Wallet(privateKey).address).toBe(first.key.address);
    expect(text).not.toContain(privateKey.slice(2));

    const again = await loadOrCreateNodeKey({
      dataDir: d,
      protection: { kind: 'safeStorage', box },
    });
    expect(again.key.address).toBe(first.key.address);

    const other = fakeKeychain();
    const err = await errorOf(
      loadOrCreateNodeKey({ dataDir: d, protection: { kind: 'safeStorage', box: other } }),
    );
    expect(err.code).toBe('KEY_UNREADABLE');
    expect(err.message).toMatch(/cannot be decrypted by your system's keychain/);
    expect(await readFile(nodeKeyPath(d), 'utf8')).toBe(text);

    // The headless node on the same folder cannot open it and says why.
    const locked = await errorOf(loadOrCreateNodeKey({ dataDir: d, protection: pass('p') }));
    expect(locked.code).toBe('KEY_LOCKED');
    expect(locked.message).toMatch(/protected by the desktop app's keychain/);
  });
});
