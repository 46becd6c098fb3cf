// The provider's voucher book (electron/provider/wallet/vouchers.ts) on anvil: every check a
// tampered voucher must fail (amount, chain, contract, signer, provider, epoch, lock, order), the
// latest voucher written durably before it is acknowledged (SIGKILL test), and recovery of a
// damaged file.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { HDNodeWallet } from 'ethers';
import { hubDomain, voucherToWire, type Voucher } from '../../shared/payments';
import type { IdlerigError } from '../../shared/errors';
import { signVoucher } from '../../contracts/client';
import { VoucherBook, type VoucherBookConfig } from '../../electron/provider/wallet/vouchers';
import { hubContract } from '../../electron/provider/wallet/hub-reader';
import { tempDir } from '../helpers/tmp';
import { rpcProvider } from '../../contracts/anvil';
import { devWallet, startChain, type Deployed } from './chain';

let d: Deployed;
let payer: HDNodeWallet;
let provider: HDNodeWallet;
let stranger: HDNodeWallet;
let tmp: { dir: string; cleanup: () => Promise<void> };

beforeAll(async () => {
  d = await startChain();
  payer = devWallet(d.anvil, 1);
  provider = devWallet(d.anvil, 2);
  stranger = devWallet(d.anvil, 3);
  await d.token(d.owner).mint(payer.address, 10_000_000n);
  await d.hub(payer).deposit(provider.address, d.tokenAddress, 1_000_000n);
  tmp = await tempDir('idlerig-vouchers-');
});
afterAll(async () => {
  await d?.anvil.stop();
  await tmp?.cleanup();
});

function config(file: string, warnings: object[] = []): VoucherBookConfig {
  return {
    file,
    chainId: Number(d.anvil.chainId),
    hub: d.hubAddress,
    provider: provider.address,
    tokens: [d.tokenAddress],
    reader: hubContract(d.hubAddress, d.anvil.provider),
    log: { warn: (obj) => warnings.push(obj) },
  };
}

async function wire(
  cumulative: bigint,
  opts: { signer?: HDNodeWallet; chainId?: bigint; hub?: string; epoch?: number; to?: string } = {},
  tamper: Partial<Voucher> = {},
) {
  const chainId = opts.chainId ?? d.anvil.chainId;
  const hub = opts.hub ?? d.hubAddress;
  const v = await signVoucher(opts.signer ?? payer, hubDomain(chainId, hub), {
    payer: payer.address,
    provider: opts.to ?? provider.address,
    token: d.tokenAddress,
    epoch: opts.epoch ?? 0,
    cumulative,
  });
  return voucherToWire({ ...v, ...tamper }, chainId, hub);
}

async function reasonOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const e = err as IdlerigError;
    return `${e.code}:${(e.details as { reason?: string } | undefined)?.reason ?? ''}`;
  }
  return 'accepted';
}

describe('VoucherBook', () => {
  it('accepts increasing vouchers, stores the latest on disk, and treats a repeat as harmless', async () => {
    const file = join(tmp.dir, 'a.json');
    const book = await VoucherBook.open(config(file));
    const a = await book.accept(await wire(100n), { payer: payer.address });
    expect(a).toMatchObject({ increase: 100n, repeat: false });
    const b = await book.accept(await wire(250n), { payer: payer.address });
    expect(b.increase).toBe(150n);
    const again = await book.accept(await wire(250n), { payer: payer.address });
    expect(again).toMatchObject({ increase: 0n, repeat: true });
    const reopened = await VoucherBook.open(config(file));
    expect(reopened.latestOf(payer.address, d.tokenAddress)?.cumulative).toBe(250n);
    // The stored voucher is one the hub pays.
    const stored = reopened.latestOf(payer.address, d.tokenAddress)!;
    expect(await d.hub(provider).claimable(stored)).toBe(250n);
    expect((await readFile(file, 'utf8')).includes('"cumulative": "250"')).toBe(true);
  });

  it('rejects and logs every tampered voucher, and keeps the latest good one', async () => {
    const file = join(tmp.dir, 'b.json');
    const warnings: object[] = [];
    const book = await VoucherBook.open(config(file, warnings));
    await book.accept(await wire(500n), { payer: payer.address });
    const as = { payer: payer.address };
    const otherHub = '0x' + '5a'.repeat(20);
    const cases: [string, Promise<unknown>][] = [
      ['amount', book.accept(await wire(600n, {}, { cumulative: 900n }), as)],
      ['chain', book.accept(await wire(600n, { chainId: 1n }), as)],
      ['contract', book.accept(await wire(600n, { hub: otherHub }), as)],
      ['signer', book.accept(await wire(600n, { signer: stranger }), as)],
      ['provider', book.accept(await wire(600n, { to: stranger.address }), as)],
      ['announced payer', book.accept(await wire(600n), { payer: stranger.address })],
      ['epoch', book.accept(await wire(600n, { epoch: 1 }), as)],
      ['over the lock', book.accept(await wire(1_000_001n), as)],
      ['decreased', book.accept(await wire(400n), as)],
      ['malformed', book.accept({ ...(await wire(600n)), cumulative: '-1' }, as)],
      [
        'signature bytes',
        book.accept({ ...(await wire(600n)), signature: '0x' + '00'.repeat(65) }, as),
      ],
    ];
    const reasons = await Promise.all(cases.map(async ([name, p]) => [name, await reasonOf(p)]));
    expect(Object.fromEntries(reasons)).toEqual({
      amount: 'VOUCHER_REJECTED:signature',
      chain: 'VOUCHER_REJECTED:chain',
      contract: 'VOUCHER_REJECTED:contract',
      signer: 'VOUCHER_REJECTED:signature',
      provider: 'VOUCHER_REJECTED:provider',
      'announced payer': 'VOUCHER_REJECTED:payer',
      epoch: 'VOUCHER_REJECTED:epoch',
      'over the lock': 'VOUCHER_REJECTED:over-lock',
      decreased: 'VOUCHER_REJECTED:decreased',
      malformed: 'VOUCHER_REJECTED:malformed',
      'signature bytes': 'VOUCHER_REJECTED:signature',
    });
    expect(warnings).toHaveLength(cases.length);
    expect(warnings.every((w) => typeof (w as { reason?: string }).reason === 'string')).toBe(true);
    expect(book.latestOf(payer.address, d.tokenAddress)?.cumulative).toBe(500n);
    expect(
      (await VoucherBook.open(config(file))).latestOf(payer.address, d.tokenAddress)?.cumulative,
    ).toBe(500n);
  });

  it('a chain it cannot reach is CHAIN_UNAVAILABLE, and nothing is stored', async () => {
    const file = join(tmp.dir, 'c.json');
    // An RPC nobody listens on (port 9 is discard; nothing serves HTTP there).
    const down = {
      ...config(file),
      reader: hubContract(d.hubAddress, rpcProvider('http://127.0.0.1:9', d.anvil.chainId)),
    };
    const book = await VoucherBook.open(down);
    expect(await reasonOf(book.accept(await wire(10n), { payer: payer.address }))).toBe(
      'CHAIN_UNAVAILABLE:',
    );
    expect(book.latest()).toEqual([]);
  });

  it('keeps a damaged file aside and starts over, saying so', async () => {
    for (const [name, text] of [
      ['empty.json', ''],
      ['half.json', '{"format":"idlerig-vouchers","version":1,"chan'],
      ['wrong.json', '{"format":"idlerig-vouchers","version":1,"channels":[{"payer":1}]}'],
    ]) {
      const file = join(tmp.dir, name!);
      await writeFile(file, text!);
      const book = await VoucherBook.open(config(file));
      expect(book.recoveredFrom?.backup, name).toContain(`${name}.corrupt-`);
      expect(book.latest()).toEqual([]);
      await book.accept(await wire(500n), { payer: payer.address });
      expect(
        (await VoucherBook.open(config(file))).latestOf(payer.address, d.tokenAddress)?.cumulative,
      ).toBe(500n);
    }
    expect((await readdir(tmp.dir)).filter((f) => f.includes('.corrupt-'))).toHaveLength(3);
  });

  it('SIGKILL between receiving and acknowledging never loses an acknowledged voucher', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/voucher-acker.ts', import.meta.url));
    const file = join(tmp.dir, 'killed.json');
    const vouchers: Awaited<ReturnType<typeof wire>>[] = [];
    for (let i = 1; i <= 40; i++) vouchers.push(await wire(BigInt(i * 1000)));
    let highestAcked = 0n;
    for (const killAfter of [3, 11, 25]) {
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          fixture,
          file,
          String(d.anvil.chainId),
          d.hubAddress,
          provider.address,
          d.anvil.rpcUrl,
          payer.address,
        ],
        { stdio: ['pipe', 'pipe', 'inherit'] },
      );
      let out = '';
      let acks = 0;
      let sent = false;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      await new Promise<void>((resolve) => {
        child.stdout.on('data', (c: Buffer) => {
          out += c.toString();
          if (out.includes('ready\n') && !sent) {
            sent = true;
            for (const v of vouchers) child.stdin.write(`${JSON.stringify(v)}\n`);
          }
          const lines = out.split('\n').filter((l) => l.startsWith('ack '));
          acks = lines.length;
          if (lines.length > 0) {
            const last = BigInt(lines[lines.length - 1]!.slice(4));
            if (last > highestAcked) highestAcked = last;
          }
          if (acks >= killAfter) {
            child.kill('SIGKILL'); // mid-stream: later vouchers are being checked or written
            resolve();
          }
        });
      });
      await exited;
      const book = await VoucherBook.open(config(file));
      expect(book.recoveredFrom).toBeUndefined(); // never a torn file
      const stored = book.latestOf(payer.address, d.tokenAddress)!.cumulative;
      expect(stored).toBeGreaterThanOrEqual(highestAcked); // nothing acknowledged is lost
    }
    expect(highestAcked).toBeGreaterThanOrEqual(25_000n);
  }, 60_000);
});
