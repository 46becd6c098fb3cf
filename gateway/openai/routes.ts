// The OpenAI-compatible API: POST /v1/chat/completions, POST /v1/completions (JSON and SSE),
// GET /v1/models. Response and chunk shapes follow OpenAI's API reference; usage comes in a
// final chunk with empty choices when stream_options.include_usage is set.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { ClientGone, type CancelSignal } from '../client-gone';
import { DispatchError } from '../dispatch';
import { newJobId } from '../ids';
import type { BodyError } from '../http';
import { parseJson, readBody, sendJson } from '../http';
import { isRefusal, worstCaseCost, type Lease } from '../keys';
import type { ServedModel } from '../providers/registry';
import type { Services } from '../services';
import { openAiError, sendOpenAiError } from './errors';
import {
  ChatRequestSchema,
  CompletionRequestSchema,
  describeIssue,
  mapChat,
  mapCompletion,
  OPENAI_PARSE,
  type Mapped,
} from './params';
import { SseWriter } from './sse';

type Api = 'chat' | 'completion';

/** A served model as OpenAI's model object (the list's entries and GET /v1/models/{id}). */
function modelObject(s: Services, m: ServedModel): Record<string, unknown> {
  return {
    id: m.name,
    object: 'model',
    created: 0,
    owned_by: 'idlerig',
    sha256: m.sha256,
    kind: m.kind,
    providers: m.providers,
    pricing: s.prices.priceOf(m.sha256, m.name, m.kind),
  };
}

export async function handleModels(
  s: Services,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const auth = s.keys.authenticate(req.headers.authorization);
  if (isRefusal(auth)) return sendOpenAiError(res, auth.status, auth.message, auth.type, auth.code);
  const data = [...s.registry.served().entries()]
    .filter(([key, m]) => key === m.name)
    .map(([, m]) => modelObject(s, m));
  sendJson(res, 200, { object: 'list', data });
}

/** GET /v1/models/{id}: the model by its name (or sha256) as in the list; 404 model_not_found. */
export async function handleModel(
  s: Services,
  id: string,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const auth = s.keys.authenticate(req.headers.authorization);
  if (isRefusal(auth)) return sendOpenAiError(res, auth.status, auth.message, auth.type, auth.code);
  const m = s.registry.served().get(id);
  if (!m) {
    return sendOpenAiError(
      res,
      404,
      `The model \`${id}\` does not exist or no provider serves it now.`,
      'invalid_request_error',
      'model_not_found',
      'model',
    );
  }
  sendJson(res, 200, modelObject(s, m));
}

export async function handleCompletions(
  s: Services,
  api: Api,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const auth = s.keys.authenticate(req.headers.authorization);
  if (isRefusal(auth)) {
    s.metrics.jobs.inc({ api, outcome: 'refused' });
    return sendOpenAiError(res, auth.status, auth.message, auth.type, auth.code);
  }
  let buf: Buffer;
  try {
    buf = await readBody(req, s.maxBodyBytes);
  } catch (err) {
    const e = err as BodyError;
    return sendOpenAiError(res, e.status ?? 400, e.message, 'invalid_request_error');
  }
  const json = parseJson(buf);
  if (!json.ok) {
    return sendOpenAiError(
      res,
      400,
      'We could not parse the JSON body of your request.',
      'invalid_request_error',
    );
  }
  const schema = api === 'chat' ? ChatRequestSchema : CompletionRequestSchema;
  const parsed = (schema as z.ZodType).safeParse(json.value, OPENAI_PARSE);
  if (!parsed.success) {
    const d = describeIssue(parsed.error, schema as z.ZodType);
    return sendOpenAiError(res, 400, d.message, 'invalid_request_error', null, d.param);
  }
  const mapped: Mapped =
    api === 'chat'
      ? mapChat(parsed.data as z.infer<typeof ChatRequestSchema>)
      : mapCompletion(parsed.data as z.infer<typeof CompletionRequestSchema>);
  const model = s.registry.served().get(mapped.model);
  if (!model || model.kind !== 'llm') {
    return sendOpenAiError(
      res,
      404,
      `The model \`${mapped.model}\` does not exist or no provider serves it now.`,
      'invalid_request_error',
      'model_not_found',
      'model',
    );
  }
  if (
    mapped.body.kind === 'chat' &&
    mapped.body.sampling.response_format &&
    model.capability.structuredOutput === false
  ) {
    return sendOpenAiError(
      res,
      400,
      `The model \`${mapped.model}\` cannot follow response_format.`,
      'invalid_request_error',
      null,
      'response_format',
    );
  }
  const worst = worstCaseCost(
    s.prices.priceOf(model.sha256, model.name, model.kind),
    mapped.body,
    mapped.maxTokens,
  );
  const lease = s.keys.admit(auth, worst);
  if (isRefusal(lease)) {
    s.metrics.jobs.inc({ api, outcome: 'refused' });
    return sendOpenAiError(
      res,
      lease.status,
      lease.message,
      lease.type,
      lease.code,
      null,
      lease.headers,
    );
  }
  const gone = new ClientGone();
  const onClose = (): void => {
    if (!res.writableFinished) gone.abort();
  };
  res.on('close', onClose);
  try {
    await (mapped.stream
      ? stream(s, api, mapped, lease, gone, res)
      : whole(s, api, mapped, lease, gone, res));
  } finally {
    res.off('close', onClose);
    lease.release();
  }
}

function created(): number {
  return Math.floor(Date.now() / 1000);
}

function usageOf(r: { tokensIn: number; tokensOut: number }): Record<string, number> {
  return {
    prompt_tokens: r.tokensIn,
    completion_tokens: r.tokensOut,
    total_tokens: r.tokensIn + r.tokensOut,
  };
}

async function whole(
  s: Services,
  api: Api,
  m: Mapped,
  lease: Lease,
  signal: CancelSignal,
  res: ServerResponse,
): Promise<void> {
  const model = s.registry.served().get(m.model)!;
  try {
    const r = await s.dispatcher.run({
      api,
      model,
      body: m.body,
      maxTokens: m.maxTokens,
      prefs: m.prefs,
      lease,
      signal,
    });
    const finish = r.finishReason === 'length' ? 'length' : 'stop';
    const body =
      api === 'chat'
        ? {
            id: `chatcmpl-${r.jobId}`,
            object: 'chat.completion',
            created: created(),
            model: m.model,
            choices: [
              {
                index: 0,
                message: { role: 'assistant', content: r.text, refusal: null },
                logprobs: null,
                finish_reason: finish,
              },
            ],
            usage: usageOf(r),
            system_fingerprint: null,
          }
        : {
            id: `cmpl-${r.jobId}`,
            object: 'text_completion',
            created: created(),
            model: m.model,
            choices: [{ text: r.text, index: 0, logprobs: null, finish_reason: finish }],
            usage: usageOf(r),
            system_fingerprint: null,
          };
    sendJson(res, 200, body, {
      ...lease.headers,
      'x-idlerig-job-id': r.jobId,
      'x-idlerig-charge': r.charge.toString(),
    });
  } catch (err) {
    sendDispatchError(res, err, lease.headers);
  }
}

async function stream(
  s: Services,
  api: Api,
  m: Mapped,
  lease: Lease,
  signal: CancelSignal,
  res: ServerResponse,
): Promise<void> {
  const model = s.registry.served().get(m.model)!;
  const sse = new SseWriter(res, lease.headers);
  const t = created();
  let id = '';
  let first = true;
  const usageNull = m.includeUsage ? { usage: null } : {};
  const chunk = (choice: Record<string, unknown>): Record<string, unknown> =>
    api === 'chat'
      ? {
          id,
          object: 'chat.completion.chunk',
          created: t,
          model: m.model,
          system_fingerprint: null,
          choices: [choice],
          ...usageNull,
        }
      : {
          id,
          object: 'text_completion',
          created: t,
          model: m.model,
          system_fingerprint: null,
          choices: [choice],
          ...usageNull,
        };
  const jobId = newJobId();
  id = `${api === 'chat' ? 'chatcmpl' : 'cmpl'}-${jobId}`;
  try {
    const r = await s.dispatcher.run({
      jobId,
      api,
      model,
      body: m.body,
      maxTokens: m.maxTokens,
      prefs: m.prefs,
      lease,
      signal,
      onText: (text) => {
        if (first) {
          first = false;
          if (api === 'chat')
            sse.send(
              chunk({
                index: 0,
                delta: { role: 'assistant', content: '', refusal: null },
                logprobs: null,
                finish_reason: null,
              }),
            );
        }
        sse.send(
          chunk(
            api === 'chat'
              ? { index: 0, delta: { content: text }, logprobs: null, finish_reason: null }
              : { text, index: 0, logprobs: null, finish_reason: null },
          ),
        );
      },
    });
    const finish = r.finishReason === 'length' ? 'length' : 'stop';
    if (first && api === 'chat')
      sse.send(
        chunk({
          index: 0,
          delta: { role: 'assistant', content: '' },
          logprobs: null,
          finish_reason: null,
        }),
      );
    sse.send(
      chunk(
        api === 'chat'
          ? { index: 0, delta: {}, logprobs: null, finish_reason: finish }
          : { text: '', index: 0, logprobs: null, finish_reason: finish },
      ),
    );
    if (m.includeUsage) {
      sse.send({
        id,
        object: api === 'chat' ? 'chat.completion.chunk' : 'text_completion',
        created: t,
        model: m.model,
        system_fingerprint: null,
        choices: [],
        usage: usageOf(r),
      });
    }
    sse.done();
  } catch (err) {
    if (err instanceof DispatchError && err.afterFirstToken) {
      sse.error(openAiError(err.message, err.type, err.code, err.param).error);
    } else if (!first) {
      const e = err instanceof DispatchError ? err : null;
      sse.error(
        openAiError(
          e?.message ?? 'The stream failed',
          e?.type ?? 'server_error',
          e?.code ?? null,
          e?.param ?? null,
        ).error,
      );
    } else sendDispatchError(res, err, lease.headers);
  }
}

function sendDispatchError(
  res: ServerResponse,
  err: unknown,
  headers: Record<string, string>,
): void {
  if (res.destroyed) return;
  if (err instanceof DispatchError) {
    if (err.status === 499) {
      res.destroy();
      return;
    }
    const h =
      err.status === 503 ? { ...headers, 'retry-after-ms': '1000', 'retry-after': '1' } : headers;
    return sendOpenAiError(res, err.status, err.message, err.type, err.code, err.param, h);
  }
  sendOpenAiError(
    res,
    500,
    'The gateway failed to handle the request.',
    'server_error',
    'internal_error',
  );
}
