// `idlerig run MODEL_FILE ...`: one job through the engine process, for trying a model and for
// scripts. The file is hashed first (the hash goes to stderr) and the engine loads it only with
// that hash, from its own folder. LLMs stream their text to stdout; with --json a last line of
// JSON follows (usage, finish_reason, timings, backend, threads). ONNX models read an Open
// Inference Protocol request and print the response as JSON.
import { open, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, extname, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { MAX_ENGINE_THREADS, threadsWarning } from '../../shared/api/engine';
import { IdlerigError } from '../../shared/errors';
import {
  LLM_BACKENDS,
  LlmChatParamsSchema,
  OipInferRequestSchema,
  oipResponseToJson,
  type ChatMessage,
  type EngineEvent,
  type LlmBackendChoice,
  type LlmResult,
  type OipInferRequest,
} from '../../shared/engine-protocol';
import { EngineSupervisor } from '../provider/engine/supervisor';
import type { ScopedLogger } from '../provider/logs/logger';
import { hashWholeFile } from '../provider/models/hasher';
import { usage } from './errors';
import { parseCliArgs } from './args';

export const RUN_HELP = `  idlerig run MODEL_FILE [--prompt TEXT | --messages FILE | --input TENSORS.json]
              [--max-tokens N] [--temperature T] [--seed S] [--threads N]
              [--backend auto|cuda|vulkan|metal|cpu] [--json] [--verbose]
      Run one job through the engine process: a .gguf model continues --prompt or answers
      the chat in --messages (a JSON array of {role, content}); an .onnx model reads an Open
      Inference Protocol request ({"inputs": [{name, shape, datatype, data}]}) from --input.
      The file's sha256 goes to stderr; with --json the last line is the job's JSON summary.
`;

/**
 * A number flag checked against the engine's own limits before anything starts, so that no value
 * reaches a schema (the engine's config or its job) to come back as raw validation text.
 */
function num(
  name: string,
  value: string | undefined,
  opts: { int?: boolean; min?: number; max?: number } = {},
): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  const isNumber = value.trim() !== '' && Number.isFinite(n);
  // A whole number the schemas accept: zod's int() is a safe integer.
  const wrongKind = !isNumber || (opts.int && !Number.isSafeInteger(n));
  if (
    wrongKind ||
    (opts.min !== undefined && n < opts.min) ||
    (opts.max !== undefined && n > opts.max)
  ) {
    const kind = opts.int ? 'a whole number' : 'a number';
    const shown = JSON.stringify(value);
    if (!wrongKind && opts.min !== undefined && opts.max === undefined)
      usage(`--${name} must be at least ${opts.min}, not ${shown}`);
    const range =
      opts.min !== undefined && opts.max !== undefined
        ? ` from ${opts.min} to ${opts.max}`
        : opts.min !== undefined
          ? ` of at least ${opts.min}`
          : '';
    usage(`--${name} must be ${kind}${range}, not ${shown}`);
  }
  return n;
}

/** The JSON in the file a flag names, or a one-line error naming the flag and the file. */
async function readJsonFlag(flag: string, path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new IdlerigError('NOT_FOUND', `--${flag}: no such file ${path}`);
    throw new IdlerigError(
      'INVALID_PARAMS',
      `--${flag}: cannot read ${path} (${code === 'EISDIR' ? 'it is a folder' : code === 'EACCES' ? 'permission denied' : (err as Error).message})`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    usage(`--${flag}: ${path} is not valid JSON (${(err as Error).message})`);
  }
}

/**
 * A .gguf file starts with the GGUF signature, a format version this engine reads (2 or 3) and
 * its tensor and metadata counts; anything else is refused in one line before the engine starts
 * (llama.cpp's own reader answers a damaged header with pages of trace, or not at all).
 */
async function checkGguf(file: string): Promise<void> {
  const fh = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await fh.read(Buffer.alloc(24), 0, 24, 0);
    const notGguf = (why: string): IdlerigError =>
      new IdlerigError('INVALID_INPUT', `${file} is not a GGUF model file (${why})`);
    if (bytesRead < 4 || buffer.toString('latin1', 0, 4) !== 'GGUF')
      throw notGguf('it does not start with the GGUF signature');
    if (bytesRead < 24) throw notGguf('its header is cut short');
    const version = buffer.readUInt32LE(4);
    if (version !== 2 && version !== 3)
      throw notGguf(`unknown GGUF version ${version}; the file is damaged or not a model`);
  } finally {
    await fh.close();
  }
}

/** Engine logs on stderr, with --verbose. */
function stderrLogger(verbose: boolean): ScopedLogger {
  const at =
    (level: string, show: boolean) =>
    (msg: string, data?: Record<string, unknown>): void => {
      if (show)
        process.stderr.write(`engine ${level}: ${msg}${data ? ` ${JSON.stringify(data)}` : ''}\n`);
    };
  return {
    debug: at('debug', verbose),
    info: at('info', verbose),
    warn: at('warn', verbose),
    // The job's error says what went wrong in one line; the engine's own lines (llama.cpp's
    // trace among them) only with --verbose.
    error: at('error', verbose),
  };
}

export async function runVerb(argv: string[]): Promise<number> {
  const parsed = parseCliArgs(
    'run',
    argv,
    {
      prompt: { type: 'string' },
      messages: { type: 'string' },
      input: { type: 'string' },
      'max-tokens': { type: 'string' },
      temperature: { type: 'string' },
      seed: { type: 'string' },
      threads: { type: 'string' },
      backend: { type: 'string' },
      json: { type: 'boolean' },
      verbose: { type: 'boolean' },
    },
    true,
  );
  const { values, positionals } = parsed;
  if (positionals.length !== 1) usage('idlerig run takes one MODEL_FILE');
  const given = resolve(positionals[0]!);
  const st = await stat(given).catch(() => null);
  if (!st?.isFile()) throw new IdlerigError('NOT_FOUND', `No such model file: ${given}`);
  const file = await realpath(given);
  const ext = extname(file).toLowerCase();
  const kind = ext === '.gguf' ? 'llm' : ext === '.onnx' ? 'onnx' : null;
  if (!kind)
    usage(`MODEL_FILE must be a .gguf or .onnx file, not ${JSON.stringify(basename(file))}`);
  const inputs = [values.prompt, values.messages, values.input].filter((v) => v !== undefined);
  if (inputs.length !== 1) usage('Give exactly one of --prompt, --messages or --input');
  if (kind === 'llm' && values.input !== undefined)
    usage('--input is for .onnx models; use --prompt or --messages');
  if (kind === 'onnx' && values.input === undefined)
    usage('An .onnx model reads its tensors from --input TENSORS.json');
  const backend = values.backend ?? 'auto';
  if (!(LLM_BACKENDS as readonly string[]).includes(backend))
    usage(`--backend must be one of ${LLM_BACKENDS.join(', ')}`);
  const maxTokens = num('max-tokens', values['max-tokens'], { int: true, min: 1 });
  // The engine's own limits (shared/engine-protocol.ts SamplingSchema), checked before it starts.
  const temperature = num('temperature', values.temperature, { min: 0, max: 5 });
  const seed = num('seed', values.seed, { int: true, min: 0, max: 0xffffffff });
  // The same maximum as Settings → Engine (the engine's config would refuse more, in schema words).
  const threads = num('threads', values.threads, { int: true, min: 1, max: MAX_ENGINE_THREADS });
  const tooMany = threadsWarning(threads, availableParallelism());
  if (tooMany) process.stderr.write(`warning: --threads ${tooMany}\n`);
  const json = values.json ?? false;

  // Read the job's input before starting anything.
  let messages: ChatMessage[] | null = null;
  let oip: OipInferRequest | null = null;
  if (values.messages !== undefined) {
    const raw = await readJsonFlag('messages', values.messages);
    const list = Array.isArray(raw) ? raw : (raw as { messages?: unknown }).messages;
    // The chat job's own schema (at least one message, and its maximum count).
    const checked = LlmChatParamsSchema.shape.messages.safeParse(list);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      usage(
        issue?.code === 'too_big'
          ? `--messages holds more than ${String(issue.maximum)} messages`
          : `--messages must hold a JSON array of {role, content}: ${issue?.message}`,
      );
    }
    messages = checked.data;
  }
  if (values.input !== undefined) {
    const raw = await readJsonFlag('input', values.input);
    const checked = OipInferRequestSchema.safeParse(Array.isArray(raw) ? { inputs: raw } : raw);
    if (!checked.success)
      usage(
        `--input must hold an inference request {"inputs": [{name, shape, datatype, data}]}: ${checked.error.issues[0]?.path.join('.')} ${checked.error.issues[0]?.message}`,
      );
    oip = checked.data;
  }

  if (kind === 'llm') await checkGguf(file);
  const { sha256 } = await hashWholeFile(file);
  process.stderr.write(`sha256 ${sha256}  ${file}\n`);
  const model = { file: basename(file), sha256 };

  const engine = new EngineSupervisor({
    log: stderrLogger(values.verbose ?? false),
    config: {
      modelsDir: dirname(file),
      llm: { backend: backend as LlmBackendChoice, threads: threads ?? null },
      onnx: { threads: threads ?? null },
      // One job, as long as it takes: the per-job timeout is for the node's market jobs.
      limits: { jobTimeoutMs: 24 * 3_600_000 },
    },
  });
  const controller = new AbortController();
  let interrupts = 0;
  const onSigint = (): void => {
    if (++interrupts > 1) process.exit(130);
    process.stderr.write('\nStopping (Ctrl-C again to quit at once)...\n');
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  try {
    if (kind === 'onnx') {
      const t0 = performance.now();
      const info = await engine.request('models.load', { kind: 'onnx', model });
      const response = await engine.infer(model, oip!, { signal: controller.signal });
      process.stdout.write(`${JSON.stringify(oipResponseToJson(response))}\n`);
      if (json) {
        process.stdout.write(
          `${JSON.stringify({
            sha256,
            execution_providers: info.onnx?.executionProviders ?? [],
            threads: info.onnx?.threads ?? null,
            timings: {
              total_ms: Math.round((performance.now() - t0) * 10) / 10,
              load_ms: info.loadMs,
            },
          })}\n`,
        );
      }
      return 0;
    }
    const sampling = {
      ...(maxTokens !== undefined ? { max_tokens: maxTokens } : {}),
      ...(temperature !== undefined ? { temperature } : {}),
      ...(seed !== undefined ? { seed } : {}),
    };
    let wroteText = false;
    const onEvent = (e: EngineEvent): void => {
      if (e.type !== 'llm.chunk' || e.text === '') return;
      process.stdout.write(e.text);
      wroteText = true;
    };
    let result: LlmResult;
    try {
      result = messages
        ? await engine.chat(
            { model, messages, ...sampling },
            { signal: controller.signal, onEvent },
          )
        : await engine.complete(
            { model, prompt: values.prompt!, ...sampling },
            { signal: controller.signal, onEvent },
          );
    } catch (err) {
      if (wroteText) process.stdout.write('\n');
      if (json && err instanceof IdlerigError) {
        process.stdout.write(
          `${JSON.stringify({ finish_reason: 'error', error: err.toBody(), sha256 })}\n`,
        );
      }
      throw err;
    }
    process.stdout.write('\n');
    if (json) {
      process.stdout.write(
        `${JSON.stringify({
          usage: result.usage,
          finish_reason: result.finish_reason,
          timings: result.timings,
          backend: result.backend,
          threads: result.threads,
          gpu_layers: result.gpu_layers,
          chat_wrapper: result.chat_wrapper,
          sha256,
        })}\n`,
      );
    }
    return 0;
  } finally {
    process.off('SIGINT', onSigint);
    await engine.close();
  }
}
