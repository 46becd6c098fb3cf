// The payment frames of the market wire protocol (shared/market-protocol.ts): the gateway's payer
// announcement, the voucher with the jobs it pays, and the provider's answers, round-tripped
// with a real EIP-712 signature, and refused with a typed error when malformed or of another
// protocol version.
import { describe, expect, it } from 'vitest';
import { Wallet } from 'ethers';
import {
  encodeFrame,
  parseGatewayFrame,
  parseProviderFrame,
  type GatewayFrame,
} from '../../shared/market-protocol';
import { hubDomain, VOUCHER_TYPES, voucherToWire, voucherValue } from '../../shared/payments';

const payer = Wallet.createRandom();
const hub = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const token = '0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512';
const provider = Wallet.createRandom().address;

async function wireVoucher(cumulative: bigint) {
  const v = { payer: payer.address, provider, token, epoch: 0, cumulative };
  const signature = await payer.signTypedData(
    hubDomain(31337, hub),
    { Voucher: VOUCHER_TYPES.Voucher.map((f) => ({ ...f })) },
    voucherValue(v),
  );
  return voucherToWire({ ...v, signature }, 31337, hub);
}

describe('payment frames', () => {
  it('payer and voucher round-trip gateway -> provider', async () => {
    const frames = [
      {
        type: 'payer',
        payer: {
          address: payer.address,
          chainId: 31337,
          hub,
          token: { address: token, symbol: 'IDD', decimals: 6 },
        },
      },
      { type: 'voucher', voucher: await wireVoucher(12_345n), jobIds: ['j1', 'j2'] },
    ] as const;
    for (const f of frames) {
      expect(parseGatewayFrame(encodeFrame(f as never))).toEqual({
        ok: true,
        frame: { v: 1, ...f } as GatewayFrame,
      });
    }
  });

  it('payer_ack, voucher_ack and voucher_rejected round-trip provider -> gateway', () => {
    const frames = [
      { type: 'payer_ack', ok: true, message: 'Payer checked on chain' },
      { type: 'voucher_ack', epoch: 0, cumulative: '12345' },
      { type: 'voucher_rejected', reason: 'over-lock', message: 'too much', cumulative: '9' },
    ];
    for (const f of frames) {
      expect(parseProviderFrame(encodeFrame(f as never))).toEqual({
        ok: true,
        frame: { v: 1, ...f },
      });
    }
  });

  it('a malformed voucher, payer or answer is a typed MALFORMED error naming the field', async () => {
    const good = await wireVoucher(1n);
    const bad: [unknown, string][] = [
      [{ v: 1, type: 'voucher', voucher: { ...good, cumulative: '-1' }, jobIds: [] }, 'cumulative'],
      [{ v: 1, type: 'voucher', voucher: { ...good, signature: '0x12' }, jobIds: [] }, 'signature'],
      [{ v: 1, type: 'voucher', voucher: good, jobIds: [''] }, 'jobIds'],
      [{ v: 1, type: 'payer', payer: { address: 'nope' } }, 'payer'],
    ];
    for (const [f, field] of bad) {
      const r = parseGatewayFrame(JSON.stringify(f));
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expect(r.code).toBe('MALFORMED');
        expect(r.message).toContain(field);
      }
    }
    const answer = parseProviderFrame(
      JSON.stringify({
        v: 1,
        type: 'voucher_rejected',
        reason: 'because',
        message: '',
        cumulative: '1',
      }),
    );
    expect(answer).toMatchObject({ ok: false, code: 'MALFORMED' });
  });

  it('another protocol version is refused before the schema', async () => {
    const r = parseGatewayFrame(
      JSON.stringify({ v: 2, type: 'voucher', voucher: await wireVoucher(1n), jobIds: [] }),
    );
    expect(r).toMatchObject({ ok: false, code: 'BAD_VERSION' });
  });
});
