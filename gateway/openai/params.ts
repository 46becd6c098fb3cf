// The OpenAI request bodies the gateway accepts (chat completions and legacy completions), mapped
// onto the wire protocol's job input. Unknown fields are ignored as OpenAI does; a bad known
// field is a 400 naming it (`param`).
import { z } from 'zod';
import type { JobInputBody, WireSampling } from '../../shared/market-protocol';
import type { ProviderPreferences } from '../matching';

const DEFAULT_MAX_TOKENS = 256;
const Amount = z.union([z.string().regex(/^\d{1,78}$/), z.number().int().nonnegative()]);

const Common = z.object({
  model: z.string({ error: 'you must provide a model parameter' }).min(1),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().optional() }).nullish(),
  max_tokens: z.number().int().min(1).nullish(),
  max_completion_tokens: z.number().int().min(1).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().gt(0).max(1).nullish(),
  seed: z.number().int().min(0).max(0xffffffff).nullish(),
  stop: z.union([z.string().min(1), z.array(z.string().min(1)).max(4)]).nullish(),
  n: z.literal(1, { error: 'only n=1 is supported' }).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  user: z.string().nullish(),
  provider: z
    .object({
      sort: z.enum(['price', 'latency', 'throughput']).optional(),
      max_price: z
        .object({
          prompt: Amount.optional(),
          completion: Amount.optional(),
          request: Amount.optional(),
        })
        .optional(),
      allow_fallbacks: z.boolean().optional(),
    })
    .nullish(),
});

const ResponseFormat = z.discriminatedUnion('type', [
  z.object({ type: z.literal('text') }),
  z.object({ type: z.literal('json_object') }),
  z.object({
    type: z.literal('json_schema'),
    json_schema: z.object({
      name: z.string().optional(),
      schema: z.record(z.string(), z.unknown()),
      strict: z.boolean().nullish(),
    }),
  }),
]);

const ContentPart = z.object({ type: z.literal('text'), text: z.string() });
const Message = z.object({
  role: z.enum(['system', 'developer', 'user', 'assistant']),
  content: z.union([z.string(), z.array(ContentPart)]).nullable(),
});

export const ChatRequestSchema = Common.extend({
  messages: z.array(Message).min(1, 'messages must not be empty'),
  response_format: ResponseFormat.nullish(),
});
export const CompletionRequestSchema = Common.extend({
  prompt: z.union([z.string(), z.array(z.string()).length(1, 'only one prompt per request')]),
  echo: z.literal(false, { error: 'echo is not supported' }).nullish(),
  best_of: z.literal(1, { error: 'best_of must be 1' }).nullish(),
  logprobs: z.null({ error: 'logprobs are not supported' }).nullish(),
});

export type ChatRequest = z.infer<typeof ChatRequestSchema>;
export type CompletionRequest = z.infer<typeof CompletionRequestSchema>;

export interface Mapped {
  body: JobInputBody;
  maxTokens: number;
  stream: boolean;
  includeUsage: boolean;
  prefs: ProviderPreferences;
  model: string;
}

/** The zod issue as OpenAI's `param` and message. */
export function describeIssue(err: z.ZodError): { param: string | null; message: string } {
  const i = err.issues[0];
  const param =
    i && i.path.length
      ? i.path
          .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
          .join('.')
          .replace(/\.\[/g, '[')
      : null;
  return {
    param,
    message: param ? `Invalid '${param}': ${i?.message}` : (i?.message ?? 'Invalid request'),
  };
}

function sampling(r: z.infer<typeof Common>, extra: Partial<WireSampling> = {}): WireSampling {
  const s: WireSampling = {
    max_tokens: r.max_completion_tokens ?? r.max_tokens ?? DEFAULT_MAX_TOKENS,
    ...extra,
  };
  if (r.temperature != null) s.temperature = r.temperature;
  if (r.top_p != null) s.top_p = r.top_p;
  if (r.seed != null) s.seed = r.seed;
  if (r.stop != null) s.stop = typeof r.stop === 'string' ? [r.stop] : r.stop;
  if (r.frequency_penalty != null) s.frequency_penalty = r.frequency_penalty;
  if (r.presence_penalty != null) s.presence_penalty = r.presence_penalty;
  return s;
}

function prefs(r: z.infer<typeof Common>): ProviderPreferences {
  const p = r.provider;
  if (!p) return {};
  const out: ProviderPreferences = {};
  if (p.sort) out.sort = p.sort;
  if (p.allow_fallbacks !== undefined) out.allowFallbacks = p.allow_fallbacks;
  if (p.max_price) {
    out.maxPrice = {};
    if (p.max_price.prompt !== undefined) out.maxPrice.prompt = BigInt(p.max_price.prompt);
    if (p.max_price.completion !== undefined)
      out.maxPrice.completion = BigInt(p.max_price.completion);
    if (p.max_price.request !== undefined) out.maxPrice.request = BigInt(p.max_price.request);
  }
  return out;
}

export function mapChat(r: ChatRequest): Mapped {
  const extra: Partial<WireSampling> = {};
  if (r.response_format && r.response_format.type !== 'text') {
    extra.response_format =
      r.response_format.type === 'json_object'
        ? { type: 'json_object' }
        : {
            type: 'json_schema',
            json_schema: {
              ...(r.response_format.json_schema.name
                ? { name: r.response_format.json_schema.name }
                : {}),
              schema: r.response_format.json_schema.schema,
            },
          };
  }
  const s = sampling(r, extra);
  return {
    body: {
      kind: 'chat',
      messages: r.messages.map((m) => ({
        role: m.role === 'developer' ? 'system' : m.role,
        content:
          typeof m.content === 'string' ? m.content : (m.content ?? []).map((p) => p.text).join(''),
      })),
      sampling: s,
    },
    maxTokens: s.max_tokens,
    stream: r.stream === true,
    includeUsage: r.stream_options?.include_usage === true,
    prefs: prefs(r),
    model: r.model,
  };
}

export function mapCompletion(r: CompletionRequest): Mapped {
  const s = sampling(r);
  return {
    body: {
      kind: 'completion',
      prompt: typeof r.prompt === 'string' ? r.prompt : (r.prompt[0] as string),
      sampling: s,
    },
    maxTokens: s.max_tokens,
    stream: r.stream === true,
    includeUsage: r.stream_options?.include_usage === true,
    prefs: prefs(r),
    model: r.model,
  };
}
