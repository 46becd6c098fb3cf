// The OpenAI request bodies the gateway accepts (chat completions and legacy completions), mapped
// onto the wire protocol's job input. Unknown fields are ignored as OpenAI does; a bad known
// field is a 400 naming it (`param`). A known field the gateway cannot honour (tools, logprobs,
// ...) is refused in words the same way, never dropped: a requester must not get an answer that
// quietly ignored part of the request. response_format is honoured (text, or a grammar for
// json_object / json_schema on models with structuredOutput; routes.ts refuses it on others).
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

/** A field the gateway cannot honour: absent or null only, else a 400 naming it, in words. */
const unsupported = (message: string) => z.null({ error: message }).nullish();
/**
 * The same for a list (tools, functions, a message's tool_calls): an empty one asks for nothing
 * and is accepted, as generic clients send `tools: []` with every request.
 */
const unsupportedList = (message: string) =>
  z.array(z.unknown()).max(0, { error: message }).nullish();

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
  tool_calls: unsupportedList('tool calls are not supported by this gateway: it has no tools'),
  function_call: unsupported(
    'function calls are not supported by this gateway: it has no functions',
  ),
});

export const ChatRequestSchema = Common.extend({
  messages: z.array(Message).min(1, 'messages must not be empty'),
  response_format: ResponseFormat.nullish(),
  tools: unsupportedList('tools (function calling) are not supported by this gateway'),
  // "none" asks for no tool: accepted; anything else is refused.
  tool_choice: z
    .literal('none', { error: 'tool_choice is not supported by this gateway: it has no tools' })
    .nullish(),
  parallel_tool_calls: z
    .literal(false, {
      error: 'parallel_tool_calls is not supported by this gateway: it has no tools',
    })
    .nullish(),
  functions: unsupportedList('functions (function calling) are not supported by this gateway'),
  function_call: unsupported('function_call is not supported by this gateway: it has no functions'),
  logprobs: z.literal(false, { error: 'logprobs are not supported by this gateway' }).nullish(),
  top_logprobs: unsupported('top_logprobs are not supported by this gateway'),
});
export const CompletionRequestSchema = Common.extend({
  prompt: z.union([z.string(), z.array(z.string()).length(1, 'only one prompt per request')]),
  echo: z.literal(false, { error: 'echo is not supported' }).nullish(),
  best_of: z.literal(1, { error: 'best_of must be 1' }).nullish(),
  logprobs: unsupported('logprobs are not supported by this gateway'),
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

// --- Validation errors in words: the one formatter of zod issues for the OpenAI surface.

/**
 * What an issue's message is when the schema gave it none of its own: parse with
 * OPENAI_PARSE and describeIssue words it (zod's own "Too big: expected number to be <=2" is not
 * for users). A schema's own message (`z.literal(1, { error: 'only n=1 is supported' })`) wins
 * over a per-parse error map, so it is kept as it is.
 */
const UNWORDED = '\u0000unworded';
const MISSING = '\u0000missing';
export const OPENAI_PARSE = {
  // The issue's input is only known here (zod keeps it out of the final issues).
  error: (i: { input?: unknown }) => (i.input === undefined ? MISSING : UNWORDED),
};

type Issue = z.core.$ZodIssue;
interface Bounds {
  min?: { value: number; inclusive: boolean };
  max?: { value: number; inclusive: boolean };
}

/** The schema at `path` inside `schema` (objects, arrays, optional/nullable), or null. */
function schemaAt(schema: z.ZodType, path: readonly PropertyKey[]): z.core.$ZodType | null {
  let cur: z.core.$ZodType | undefined = schema;
  for (let i = 0; ; i++) {
    while (cur && 'unwrap' in cur && typeof cur.unwrap === 'function') {
      cur = (cur as { unwrap(): z.core.$ZodType }).unwrap();
    }
    if (!cur || i === path.length) return cur ?? null;
    const key = path[i];
    const def = cur._zod.def as { type: string; shape?: Record<string, z.core.$ZodType> };
    if (def.type === 'object' && typeof key === 'string') cur = def.shape?.[key];
    else if (def.type === 'array' && typeof key === 'number')
      cur = (def as unknown as { element: z.core.$ZodType }).element;
    else return null;
  }
}

/** A number schema's bounds from its checks (zod's int() adds no check of its own). */
function boundsOf(schema: z.core.$ZodType | null): Bounds {
  const b: Bounds = {};
  const checks = (schema?._zod.def as { checks?: z.core.$ZodCheck[] } | undefined)?.checks ?? [];
  for (const c of checks) {
    const d = c._zod.def as { check: string; value?: unknown; inclusive?: boolean };
    if (typeof d.value !== 'number') continue;
    if (d.check === 'greater_than') b.min = { value: d.value, inclusive: d.inclusive !== false };
    if (d.check === 'less_than') b.max = { value: d.value, inclusive: d.inclusive !== false };
  }
  return b;
}

function rangeWords(b: Bounds): string {
  const lo = b.min && `${b.min.inclusive ? 'at least' : 'greater than'} ${b.min.value}`;
  const hi = b.max && `${b.max.inclusive ? 'at most' : 'less than'} ${b.max.value}`;
  if (b.min?.inclusive && b.max?.inclusive) return `between ${b.min.value} and ${b.max.value}`;
  return [lo, hi].filter(Boolean).join(' and ');
}

/** A discriminated union's tags ("text", "json_object", ...) when the issue is about its tag. */
function discriminatorValues(schema: z.ZodType, i: Issue): unknown[] | null {
  const tag = i.path.at(-1);
  const union = schemaAt(schema, i.path.slice(0, -1));
  const def = union?._zod.def as { discriminator?: string; options?: z.core.$ZodType[] };
  if (!def?.discriminator || def.discriminator !== tag || !def.options) return null;
  return def.options.flatMap((o) => {
    const field = (o._zod.def as { shape?: Record<string, z.core.$ZodType> }).shape?.[tag];
    return (field?._zod.def as { values?: unknown[] } | undefined)?.values ?? [];
  });
}

const TYPE_WORDS: Record<string, string> = {
  int: 'an integer',
  number: 'a number',
  string: 'a string',
  boolean: 'a boolean',
  array: 'an array',
  object: 'an object',
};

function paramOf(path: readonly PropertyKey[]): string | null {
  return path.length
    ? path
        .map((p) => (typeof p === 'number' ? `[${p}]` : String(p)))
        .join('.')
        .replace(/\.\[/g, '[')
    : null;
}

function plural(n: number | bigint, one: string): string {
  return `${n} ${one}${Number(n) === 1 ? '' : 's'}`;
}

/** Words for one unworded issue about `name` (the parameter, or "The request"). */
function words(schema: z.ZodType, i: Issue, name: string): string {
  switch (i.code) {
    case 'invalid_type':
      if (i.message === MISSING) return `${name} is required`;
      return `${name} must be ${TYPE_WORDS[i.expected] ?? i.expected}`;
    case 'too_small':
    case 'too_big': {
      const n = i.code === 'too_small' ? i.minimum : i.maximum;
      const least = i.code === 'too_small';
      if (i.origin === 'string') {
        return least && Number(n) === 1
          ? `${name} must not be empty`
          : `${name} must have ${least ? 'at least' : 'at most'} ${plural(n, 'character')}`;
      }
      if (i.origin === 'array' || i.origin === 'set') {
        return `${name} must have ${least ? 'at least' : 'at most'} ${plural(n, 'item')}`;
      }
      // A number: both of its bounds when the schema has them ("between 0 and 2").
      const b = boundsOf(schemaAt(schema, i.path));
      const own = { value: Number(n), inclusive: i.inclusive !== false };
      if (least) b.min ??= own;
      else b.max ??= own;
      return `${name} must be ${rangeWords(b)}`;
    }
    case 'invalid_value':
      return i.values.length === 1
        ? `${name} must be ${JSON.stringify(i.values[0])}`
        : `${name} must be one of ${i.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_union': {
      // The branch that got past its type check says what is wrong ("stop must have at most 4
      // items"); else the types it may be.
      const branches = i.errors.map((e) => e[0]).filter((e): e is Issue => e !== undefined);
      if (branches.length && branches.every((e) => e.message === MISSING)) {
        return `${name} is required`;
      }
      const near = branches.find((e) => e.code !== 'invalid_type' || e.path.length > 0);
      if (near) {
        if (near.message !== UNWORDED && near.message !== MISSING) return near.message;
        const path = [...i.path, ...near.path];
        return words(schema, { ...near, path }, paramOf(path) ?? name);
      }
      const tags = discriminatorValues(schema, i);
      if (tags) return `${name} must be one of ${tags.map((v) => JSON.stringify(v)).join(', ')}`;
      const types = branches.flatMap((e) =>
        e.code === 'invalid_type' ? [TYPE_WORDS[e.expected] ?? e.expected] : [],
      );
      return types.length ? `${name} must be ${types.join(' or ')}` : `${name} is not valid`;
    }
    case 'unrecognized_keys':
      return `${name} has unknown fields: ${i.keys.join(', ')}`;
    case 'invalid_format':
      return `${name} is not in the expected format (${i.format})`;
    case 'not_multiple_of':
      return `${name} must be a multiple of ${i.divisor}`;
    default:
      return `${name} is not valid`;
  }
}

/**
 * The first zod issue of a request parsed with OPENAI_PARSE, as OpenAI's `param` and a message
 * in words: "temperature must be between 0 and 2", "max_tokens must be at least 1",
 * "max_tokens must be an integer". `schema` is the one that was parsed (for a number's bounds).
 */
export function describeIssue(
  err: z.ZodError,
  schema: z.ZodType,
): { param: string | null; message: string } {
  const i = err.issues[0];
  if (!i) return { param: null, message: 'Invalid request' };
  const param = paramOf(i.path);
  if (i.message !== UNWORDED && i.message !== MISSING) return { param, message: i.message };
  return { param, message: words(schema, i, param ?? 'The request body') };
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
