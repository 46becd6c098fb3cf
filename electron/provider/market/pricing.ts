// Between the earning policy's money (the electricity currency, per hour of work) and the
// market's (an ERC-20 token's smallest unit, per million tokens or per request): the price floor
// a model is advertised with, and what an offer is worth in the electricity currency, so the
// policy's evaluateOffer can compare it with the electricity the job will cost.
import type { PriceFloor } from '../../../shared/api/power';
import type { NetworkSettings } from '../../../shared/api/market';
import type { Price } from '../../../shared/market-protocol';
import { chargeFor } from '../../../shared/receipt';

export type MarketPricing = NetworkSettings['pricing'];

/** Tokens per second assumed for a model before a job on it was measured. */
export const ASSUMED_TOKENS_PER_S = 50;
/** Seconds assumed for a tensor request before one was measured. */
export const ASSUMED_TENSOR_S = 0.05;

const SCALE = 1_000_000;

/** An amount in the electricity currency as the token's smallest unit, rounded up. */
export function toTokenUnits(amount: number, pricing: MarketPricing): bigint {
  if (!(amount > 0) || !(pricing.currencyPerToken > 0)) return 0n;
  const tokens = amount / pricing.currencyPerToken;
  // In micro-units first so 18-decimal tokens keep their precision past 2^53.
  const micro = BigInt(Math.ceil(tokens * SCALE));
  const unit = 10n ** BigInt(pricing.tokenDecimals);
  return (micro * unit + BigInt(SCALE - 1)) / BigInt(SCALE);
}

/** The token's smallest unit as the electricity currency. */
export function toCurrency(units: bigint, pricing: MarketPricing): number {
  const unit = 10n ** BigInt(pricing.tokenDecimals);
  const whole = Number(units / unit) + Number(units % unit) / Number(unit);
  return whole * pricing.currencyPerToken;
}

/**
 * The lowest price a model is offered at: the floor's cost of the seconds a million output tokens
 * take at this speed (prompt tokens are not priced by the floor); per request for tensor models.
 */
export function floorPrice(
  kind: 'llm' | 'onnx',
  floor: PriceFloor,
  pricing: MarketPricing,
  speed: { tokensPerS: number | null; tensorS: number | null },
): Price {
  if (kind === 'onnx') {
    const seconds = speed.tensorS ?? ASSUMED_TENSOR_S;
    return {
      per: 'request',
      amount: toTokenUnits((floor.perHour * seconds) / 3600, pricing).toString(),
    };
  }
  const tps = speed.tokensPerS && speed.tokensPerS > 0 ? speed.tokensPerS : ASSUMED_TOKENS_PER_S;
  const perMillion = (floor.perHour * (1_000_000 / tps)) / 3600;
  return { per: 'mtok', input: '0', output: toTokenUnits(perMillion, pricing).toString() };
}

/** Whether an offered price is at or above the advertised floor, field by field. */
export function meetsFloor(offer: Price, floor: Price): boolean {
  if (offer.per !== floor.per) return false;
  if (offer.per === 'request' && floor.per === 'request')
    return BigInt(offer.amount) >= BigInt(floor.amount);
  if (offer.per === 'mtok' && floor.per === 'mtok')
    return (
      BigInt(offer.input) >= BigInt(floor.input) && BigInt(offer.output) >= BigInt(floor.output)
    );
  return false;
}

/** The most an offer can pay (every allowed output token), in token units. */
export function offerMaxCharge(price: Price, maxTokens: number): bigint {
  return chargeFor(price, { tokensIn: 0, tokensOut: maxTokens });
}
