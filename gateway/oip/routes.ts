// The Open Inference Protocol (KServe v2) for tensor models, with the binary tensor data
// extension (Triton's client default): a request body may be a JSON header of
// Inference-Header-Content-Length bytes followed by the inputs' raw bytes in order; outputs asked
// for with `binary_data` come back the same way. Errors are {"error": "..."}.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { formatValue } from '../../shared/format';
import { VERSION } from '../../shared/version';
import type { WireTensor } from '../../shared/market-protocol';
import { ClientGone } from '../client-gone';
import { DispatchError } from '../dispatch';
import { newJobId } from '../ids';
import type { BodyError } from '../http';
import { readBody, sendJson } from '../http';
import { isRefusal, worstCaseCost } from '../keys';
import type { Services } from '../services';
import type { ServedModel } from '../providers/registry';
import { checkRaw, elementCount, flatten, jsonToRaw, rawToJson } from './tensors';

const HEADER = 'inference-header-content-length';

const InferRequestSchema = z.object({
  id: z.string().max(256).optional(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  inputs: z
    .array(
      z.object({
        name: z.string().min(1).max(256),
        shape: z.array(z.number().int().min(0)).max(16),
        datatype: z.string().min(1).max(16),
        parameters: z.record(z.string(), z.unknown()).optional(),
        data: z.array(z.unknown()).optional(),
      }),
    )
    .min(1)
    .max(256),
  outputs: z
    .array(z.object({ name: z.string(), parameters: z.record(z.string(), z.unknown()).optional() }))
    .max(256)
    .optional(),
});

function oipError(
  res: ServerResponse,
  status: number,
  error: string,
  headers: Record<string, string> = {},
): void {
  sendJson(res, status, { error }, headers);
}

function onnxModel(s: Services, name: string): ServedModel | null {
  const m = s.registry.served().get(name);
  return m && m.kind === 'onnx' ? m : null;
}

/** GET /v2, /v2/health/*, /v2/models/{name}[/versions/{v}][/ready]; POST .../infer. */
export async function handleOip(
  s: Services,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
): Promise<void> {
  if (path === '/v2' || path === '/v2/') {
    return sendJson(res, 200, {
      name: 'idlerig-gateway',
      version: VERSION,
      extensions: ['binary_tensor_data'],
    });
  }
  if (path === '/v2/health/live') return sendJson(res, 200, { live: true });
  if (path === '/v2/health/ready') {
    const ready = s.registry.online > 0;
    return sendJson(res, ready ? 200 : 503, { ready });
  }
  const m = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(\/ready|\/infer)?$/.exec(path);
  if (!m) return oipError(res, 404, `Not found: ${path}`);
  let name: string;
  try {
    name = decodeURIComponent(m[1] as string);
  } catch {
    return oipError(res, 400, 'A bad model name in the path');
  }
  const version = m[2] ?? null;
  const action = m[3] ?? '';
  const model = onnxModel(s, name);
  if (action === '/infer') {
    if (req.method !== 'POST') return oipError(res, 405, 'Use POST for infer');
    return infer(s, req, res, name, model, version);
  }
  if (req.method !== 'GET') return oipError(res, 405, `Use GET for ${path}`);
  if (!model || (version !== null && version !== '1')) {
    if (action === '/ready')
      return sendJson(res, 404, { name, ready: false, error: `Model ${name} is not served` });
    return oipError(res, 404, `Model ${name}${version ? ` version ${version}` : ''} is not served`);
  }
  if (action === '/ready') return sendJson(res, 200, { name, ready: true });
  return sendJson(res, 200, {
    name,
    versions: ['1'],
    platform: 'onnxruntime_onnx',
    inputs: model.capability.inputs ?? [],
    outputs: model.capability.outputs ?? [],
    sha256: model.sha256,
  });
}

async function infer(
  s: Services,
  req: IncomingMessage,
  res: ServerResponse,
  name: string,
  model: ServedModel | null,
  version: string | null,
): Promise<void> {
  const auth = s.keys.authenticate(req.headers.authorization);
  if (isRefusal(auth)) return oipError(res, 401, auth.message);
  if (!model || (version !== null && version !== '1'))
    return oipError(res, 404, `Model ${name} is not served`);
  let body: Buffer;
  try {
    body = await readBody(req, s.maxBodyBytes);
  } catch (err) {
    return oipError(res, (err as BodyError).status ?? 400, (err as Error).message);
  }
  const headerLen = req.headers[HEADER];
  let jsonPart = body;
  let binary: Buffer | null = null;
  if (headerLen !== undefined) {
    const n = Number(headerLen);
    if (!Number.isInteger(n) || n < 0 || n > body.length) {
      return oipError(
        res,
        400,
        `${HEADER} must be a byte count within the body (got ${String(headerLen).slice(0, 20)})`,
      );
    }
    jsonPart = body.subarray(0, n);
    binary = body.subarray(n);
  }
  let json: unknown;
  try {
    json = JSON.parse(jsonPart.toString('utf8'));
  } catch {
    return oipError(res, 400, 'The inference request header is not valid JSON');
  }
  const parsed = InferRequestSchema.safeParse(json);
  if (!parsed.success) {
    const i = parsed.error.issues[0];
    return oipError(
      res,
      400,
      `Invalid inference request${i?.path.length ? ` at ${i.path.join('.')}` : ''}: ${i?.message}`,
    );
  }
  const r = parsed.data;
  const inputs: WireTensor[] = [];
  let at = 0;
  for (const t of r.inputs) {
    const size = t.parameters?.binary_data_size;
    if (size !== undefined) {
      if (
        !binary ||
        typeof size !== 'number' ||
        !Number.isInteger(size) ||
        size < 0 ||
        at + size > binary.length
      ) {
        return oipError(
          res,
          400,
          `Input ${t.name}: binary_data_size ${formatValue(size, 20)} does not fit the binary data`,
        );
      }
      const raw = binary.subarray(at, at + size);
      at += size;
      const bad = checkRaw(t.datatype, t.shape, raw);
      if (bad) return oipError(res, 400, `Input ${t.name} ${bad}`);
      inputs.push({
        name: t.name,
        datatype: t.datatype,
        shape: t.shape,
        b64: raw.toString('base64'),
      });
    } else {
      if (!t.data)
        return oipError(res, 400, `Input ${t.name} has neither data nor binary_data_size`);
      const data = flatten(t.data);
      const n = elementCount(t.shape);
      if (data.length !== n) {
        return oipError(
          res,
          400,
          `Input ${t.name} has ${data.length} elements; shape ${JSON.stringify(t.shape)} needs ${n}`,
        );
      }
      inputs.push({ name: t.name, datatype: t.datatype, shape: t.shape, data });
    }
  }
  if (binary && at !== binary.length) {
    return oipError(res, 400, `The binary data holds ${binary.length - at} bytes no input claims`);
  }
  const allBinary = r.parameters?.binary_data_output === true;
  const wantBinary = new Map(
    (r.outputs ?? []).map((o) => [o.name, o.parameters?.binary_data === true || allBinary]),
  );
  const job = {
    kind: 'tensor' as const,
    inputs,
    ...(r.outputs ? { outputs: r.outputs.map((o) => o.name) } : {}),
  };
  const lease = s.keys.admit(
    auth,
    worstCaseCost(s.prices.priceOf(model.sha256, model.name, model.kind), job, 0),
  );
  if (isRefusal(lease)) return oipError(res, lease.status, lease.message, lease.headers);
  const gone = new ClientGone();
  const onClose = (): void => {
    if (!res.writableFinished) gone.abort();
  };
  res.on('close', onClose);
  try {
    const result = await s.dispatcher.run({
      jobId: newJobId(),
      api: 'tensor',
      model,
      body: job,
      maxTokens: 0,
      prefs: {},
      lease,
      signal: gone,
    });
    const outs = result.outputs ?? [];
    const parts: Buffer[] = [];
    const outputs = outs.map((t) => {
      const binaryOut = wantBinary.get(t.name) ?? allBinary;
      if (binaryOut) {
        const raw =
          t.b64 !== undefined ? Buffer.from(t.b64, 'base64') : jsonToRaw(t.datatype, t.data ?? []);
        parts.push(raw);
        return {
          name: t.name,
          datatype: t.datatype,
          shape: t.shape,
          parameters: { binary_data_size: raw.length },
        };
      }
      const data = t.data ?? rawToJson(t.datatype, Buffer.from(t.b64 ?? '', 'base64'));
      return { name: t.name, datatype: t.datatype, shape: t.shape, data };
    });
    const head = {
      model_name: name,
      model_version: '1',
      ...(r.id !== undefined ? { id: r.id } : {}),
      outputs,
    };
    const headers = { ...lease.headers, 'x-idlerig-job-id': result.jobId };
    if (parts.length === 0) return sendJson(res, 200, head, headers);
    const headText = Buffer.from(JSON.stringify(head), 'utf8');
    const payload = Buffer.concat([headText, ...parts]);
    res.writeHead(200, {
      ...headers,
      'content-type': 'application/octet-stream',
      'content-length': payload.length,
      [HEADER]: String(headText.length),
    });
    res.end(payload);
  } catch (err) {
    if (err instanceof DispatchError) {
      if (err.status === 499) return void res.destroy();
      return oipError(res, err.status, err.message, lease.headers);
    }
    oipError(res, 500, 'The gateway failed to handle the request');
  } finally {
    res.off('close', onClose);
    lease.release();
  }
}
