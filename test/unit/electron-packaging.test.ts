// What packaging relies on, checked without building installers: the generated icons are valid
// PNGs of the right sizes, and electron-builder.yml sets every Electron fuse the installed
// electron-builder knows, with the values DESIGN.md asks for.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { TRAY_ICONS } from '../../electron/main/tray-model';

const root = join(import.meta.dirname, '..', '..');

/** Width and height of a PNG, after checking its signature and the CRC of every chunk. */
function pngSize(file: string): { width: number; height: number } {
  const bytes = readFileSync(join(root, file));
  expect(bytes.subarray(0, 8).toString('hex'), file).toBe('89504e470d0a1a0a');
  let offset = 8;
  while (offset < bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const typeAndData = bytes.subarray(offset + 4, offset + 8 + length);
    expect(bytes.readUInt32BE(offset + 8 + length), `${file} chunk CRC`).toBe(crc32(typeAndData));
    offset += 12 + length;
  }
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

describe('icons (scripts/make-icons.js)', () => {
  it('has the 512x512 app icon and the 256x256 window icon', () => {
    expect(pngSize('build/icon.png')).toEqual({ width: 512, height: 512 });
    expect(pngSize('resources/icon.png')).toEqual({ width: 256, height: 256 });
  });

  it('has every tray icon at 16x16 and @2x 32x32, each state different', () => {
    const seen = new Set<string>();
    for (const icon of TRAY_ICONS) {
      expect(pngSize(`resources/tray/${icon}.png`)).toEqual({ width: 16, height: 16 });
      expect(pngSize(`resources/tray/${icon}@2x.png`)).toEqual({ width: 32, height: 32 });
      seen.add(readFileSync(join(root, `resources/tray/${icon}.png`)).toString('base64'));
    }
    expect(seen.size).toBe(TRAY_ICONS.length);
  });
});

describe('electron-builder.yml', () => {
  const yml = readFileSync(join(root, 'electron-builder.yml'), 'utf8');

  /** The `electronFuses:` block as name -> value. */
  function fuses(): Record<string, string> {
    const block = /^electronFuses:\n((?: {2}.+\n)+)/m.exec(yml)?.[1] ?? '';
    return Object.fromEntries(
      block
        .trim()
        .split('\n')
        .map((line) => line.trim().split(/:\s*/) as [string, string]),
    );
  }

  it('sets every fuse the installed electron-builder knows', () => {
    const require = createRequire(import.meta.url);
    const builderDir = dirname(require.resolve('electron-builder/package.json'));
    const scheme = JSON.parse(
      readFileSync(require.resolve('app-builder-lib/scheme.json', { paths: [builderDir] }), 'utf8'),
    ) as { definitions: { FuseOptionsV1: { properties: Record<string, unknown> } } };
    const known = Object.keys(scheme.definitions.FuseOptionsV1.properties).sort();
    expect(Object.keys(fuses()).sort()).toEqual(known);
  });

  it('turns off what an attacker could use, and on asar integrity and cookie encryption', () => {
    expect(fuses()).toMatchObject({
      runAsNode: 'false',
      enableCookieEncryption: 'true',
      enableNodeOptionsEnvironmentVariable: 'false',
      enableNodeCliInspectArguments: 'false',
      enableEmbeddedAsarIntegrityValidation: 'true',
      onlyLoadAppFromAsar: 'true',
      loadBrowserProcessSpecificV8Snapshot: 'false',
      grantFileProtocolExtraPrivileges: 'false',
    });
  });

  it('takes the update feed from IDLERIG_UPDATE_URL and unpacks native modules', () => {
    expect(yml).toMatch(
      /^publish:\n {2}provider: generic\n {2}url: \$\{env\.IDLERIG_UPDATE_URL\}$/m,
    );
    for (const pattern of [
      'node_modules/node-llama-cpp/**',
      'node_modules/@node-llama-cpp/**',
      'node_modules/onnxruntime-node/**',
      "'**/*.node'",
    ]) {
      expect(yml).toContain(`  - ${pattern}\n`);
    }
  });
});
