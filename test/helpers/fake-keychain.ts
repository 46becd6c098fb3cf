// FAKE of Electron's safeStorage (no Electron binary here): AES-256-GCM under a key the "OS
// keychain" holds. Like the real one, its output is opaque bytes only this keychain can open.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { SecretBox } from '../../electron/provider/wallet/node-key';

export function fakeKeychain(): SecretBox & { key: Buffer } {
  const key = randomBytes(32);
  return {
    key,
    encrypt(plain) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
      return Buffer.concat([iv, c.getAuthTag(), body]);
    },
    decrypt(cipher) {
      const b = Buffer.from(cipher);
      const d = createDecipheriv('aes-256-gcm', key, b.subarray(0, 12));
      d.setAuthTag(b.subarray(12, 28));
      return Buffer.concat([d.update(b.subarray(28)), d.final()]).toString('utf8');
    },
  };
}
