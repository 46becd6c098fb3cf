// The gateway's prices: what it lets a job cost at most, per model (sha256 or name), in the
// token's smallest unit (per million input and output tokens for LLMs, per request for ONNX).
// A provider is offered its own floor when that is within this price (matching.ts), and the
// requester is charged what the provider's receipt says the job cost (shared/receipt.ts).
//
// The price file (--price-file F), JSON:
//   { "default": { "llm": { "per": "mtok", "input": "100", "output": "200" },
//                  "onnx": { "per": "request", "amount": "5" } },
//     "models": { "<sha256 or name>": { "per": "mtok", "input": "...", "output": "..." } } }
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { PriceSchema, type Price } from '../shared/market-protocol';

const PriceFileSchema = z
  .object({
    default: z
      .object({
        llm: PriceSchema.optional(),
        onnx: PriceSchema.optional(),
      })
      .strict()
      .optional(),
    models: z.record(z.string().min(1), PriceSchema).optional(),
  })
  .strict();
export type PriceFile = z.infer<typeof PriceFileSchema>;

export const DEFAULT_PRICES: Required<NonNullable<PriceFile['default']>> = {
  // 0.1 and 0.2 of an 18-decimal token per million tokens.
  llm: { per: 'mtok', input: '100000000000000000', output: '200000000000000000' },
  onnx: { per: 'request', amount: '1000000000000' },
};

export class PriceList {
  private readonly byModel: Map<string, Price>;
  private readonly defaults: typeof DEFAULT_PRICES;

  constructor(file: PriceFile = {}) {
    this.byModel = new Map(Object.entries(file.models ?? {}));
    this.defaults = { ...DEFAULT_PRICES, ...file.default };
  }

  /** Reads and checks a price file; a bad one is a one-line error naming the field. */
  static load(path: string): PriceList {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new Error(
        `Cannot read the price file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        { cause: err },
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new Error(`The price file ${path} is not valid JSON`, { cause: err });
    }
    const r = PriceFileSchema.safeParse(json);
    if (!r.success) {
      const i = r.error.issues[0];
      throw new Error(
        `The price file ${path}: ${i?.path.join('.') || 'top level'}: ${i?.message ?? 'invalid'}`,
      );
    }
    return new PriceList(r.data);
  }

  /** The gateway's price of a model. */
  priceOf(sha256: string, name: string, kind: 'llm' | 'onnx'): Price {
    return this.byModel.get(sha256) ?? this.byModel.get(name) ?? this.defaults[kind];
  }
}

/**
 * A price's parts as numbers, parsed once per price object (matching compares them per job, for
 * every candidate). Prices are never changed once made (parsed frames, the price file).
 */
export interface ParsedPrice {
  per: Price['per'];
  input: bigint;
  output: bigint;
  amount: bigint;
  /** One number to sort prices by: input + output per million tokens, or the request price. */
  score: number;
}
const parsed = new WeakMap<Price, ParsedPrice>();

export function priceParts(p: Price): ParsedPrice {
  let r = parsed.get(p);
  if (!r) {
    r =
      p.per === 'mtok'
        ? {
            per: 'mtok',
            input: BigInt(p.input),
            output: BigInt(p.output),
            amount: 0n,
            score: Number(p.input) + Number(p.output),
          }
        : {
            per: 'request',
            input: 0n,
            output: 0n,
            amount: BigInt(p.amount),
            score: Number(p.amount),
          };
    parsed.set(p, r);
  }
  return r;
}

/** Whether a floor is at or below a ceiling in every part (same unit). */
export function withinParsed(f: ParsedPrice, c: ParsedPrice): boolean {
  if (f.per !== c.per) return false;
  return f.per === 'mtok' ? f.input <= c.input && f.output <= c.output : f.amount <= c.amount;
}
