// The committed ABI and bytecode (contracts/generated/) are what the sources compile to with the
// pinned solc: `npm run contracts -- --check` passes. A stale artefact would deploy old code.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { PaymentHub } from '../../contracts/generated/PaymentHub';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('contract artefacts', () => {
  it('are current (npm run contracts -- --check)', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'contracts/build.ts', '--check'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('Contract artefacts are current.');
    expect(r.status).toBe(0);
  }, 60_000);

  it('were built by the pinned compiler', () => {
    expect(PaymentHub.compiler).toMatch(/^solc 0\.8\.37\+/);
    expect(PaymentHub.bytecode).toMatch(/^0x[0-9a-f]+$/);
  });
});
