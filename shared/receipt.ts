// The EIP-712 receipt a provider signs with its node key for every finished job (the `done`
// frame of shared/market-protocol.ts carries it). Both sides keep it; it is what an owner
// reconciles against payouts. Signing (ethers `Wallet.signTypedData`) and verification
// (ethers `verifyTypedData`) live on each side; this file holds only the types and the values.
//
//   domain  { name: "Idlerig Receipt", version: "1", chainId }
//   Receipt { jobId string, modelSha256 bytes32, inputSha256 bytes32, outputSha256 bytes32,
//             tokensIn uint64, tokensOut uint64, price uint256, gateway string }
//
// `price` is what the job costs in the token's smallest unit (chargeFor below, from the offer's
// price and the usage); `gateway` is the gateway's origin as its hello gave it.
import { z } from 'zod';

export const RECEIPT_DOMAIN_NAME = 'Idlerig Receipt';
export const RECEIPT_DOMAIN_VERSION = '1';

export function receiptDomain(chainId: number): { name: string; version: string; chainId: number } {
  return { name: RECEIPT_DOMAIN_NAME, version: RECEIPT_DOMAIN_VERSION, chainId };
}

/** The EIP-712 types, in the shape ethers' signTypedData / verifyTypedData take. */
export const RECEIPT_TYPES = {
  Receipt: [
    { name: 'jobId', type: 'string' },
    { name: 'modelSha256', type: 'bytes32' },
    { name: 'inputSha256', type: 'bytes32' },
    { name: 'outputSha256', type: 'bytes32' },
    { name: 'tokensIn', type: 'uint64' },
    { name: 'tokensOut', type: 'uint64' },
    { name: 'price', type: 'uint256' },
    { name: 'gateway', type: 'string' },
  ],
} as const satisfies Record<string, readonly { name: string; type: string }[]>;

const Hex32 = z.string().regex(/^[0-9a-f]{64}$/, 'a lowercase hex sha256');
const Decimal = z.string().regex(/^(0|[1-9]\d{0,77})$/, 'a decimal integer string');

/** The receipt on the wire: hashes as lowercase hex without 0x, amounts as decimal strings. */
export const ReceiptSchema = z.object({
  jobId: z.string().min(1).max(128),
  modelSha256: Hex32,
  inputSha256: Hex32,
  outputSha256: Hex32,
  tokensIn: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  tokensOut: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  price: Decimal,
  gateway: z.string().min(1).max(2048),
});
export type Receipt = z.infer<typeof ReceiptSchema>;

export const SignedReceiptSchema = ReceiptSchema.extend({
  /** 65-byte secp256k1 signature, 0x-prefixed hex. */
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/, 'a 65-byte hex signature'),
});
export type SignedReceipt = z.infer<typeof SignedReceiptSchema>;

/** The EIP-712 message values (bytes32 as 0x hex, integers as bigint) of a receipt. */
export function receiptValue(r: Receipt): Record<string, string | bigint> {
  return {
    jobId: r.jobId,
    modelSha256: `0x${r.modelSha256}`,
    inputSha256: `0x${r.inputSha256}`,
    outputSha256: `0x${r.outputSha256}`,
    tokensIn: BigInt(r.tokensIn),
    tokensOut: BigInt(r.tokensOut),
    price: BigInt(r.price),
    gateway: r.gateway,
  };
}

/**
 * What a job costs, in the token's smallest unit: per million tokens for LLMs (the sum rounded
 * up), per request for ONNX. Both sides compute it the same way; the gateway refuses a receipt
 * whose price differs.
 */
export function chargeFor(
  price: { per: 'mtok'; input: string; output: string } | { per: 'request'; amount: string },
  usage: { tokensIn: number; tokensOut: number },
): bigint {
  if (price.per === 'request') return BigInt(price.amount);
  const micro =
    BigInt(usage.tokensIn) * BigInt(price.input) + BigInt(usage.tokensOut) * BigInt(price.output);
  return (micro + 999_999n) / 1_000_000n;
}
