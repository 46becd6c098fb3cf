// The node key's protection under Electron: safeStorage (the OS keychain: Keychain on macOS,
// DPAPI on Windows, libsecret/kwallet on Linux) where it is real. Where Electron would fall back
// to its hard-coded "basic_text" key on Linux (no keyring), that is no protection: the node uses
// the passphrase keystore instead (IDLERIG_KEY_PASSPHRASE or a passphrase file).
import type { KeyProtection } from '../provider/wallet/node-key';

export interface SafeStorageLike {
  isEncryptionAvailable(): boolean;
  encryptString(plain: string): Buffer;
  decryptString(cipher: Buffer): string;
  getSelectedStorageBackend?: () => string;
}

export function keychainProtection(
  safeStorage: SafeStorageLike | undefined,
  platform = process.platform,
): KeyProtection | undefined {
  if (!safeStorage?.isEncryptionAvailable()) return undefined;
  if (platform === 'linux' && safeStorage.getSelectedStorageBackend?.() === 'basic_text')
    return undefined;
  return {
    kind: 'safeStorage',
    box: {
      encrypt: (plain) => safeStorage.encryptString(plain),
      decrypt: (cipher) => safeStorage.decryptString(Buffer.from(cipher)),
    },
  };
}
