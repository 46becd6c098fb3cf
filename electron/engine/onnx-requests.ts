// Requests of an ONNX batch that could not be packed (onnx-packed.ts), run one by one in the
// engine's ONNX thread: each is checked against the model's own metadata (names, datatypes,
// shapes, element counts, bytes) before ONNX Runtime sees it, and each fails alone.
import type { Tensor } from 'onnxruntime-node';
import { IdlerigError } from '../../shared/errors';
import type {
  OipInferRequest,
  OipInferResponse,
  OipTensor,
  OnnxInferResult,
} from '../../shared/engine-protocol';
import { stoppedError } from './job';
import type { PackedModel } from './onnx-packed';
import {
  describeTensor,
  fromTensor,
  tensorBytes,
  toBody,
  toTensor,
  type Ort,
} from './onnx-tensors';

export async function runRequests(
  ort: Ort,
  m: PackedModel,
  requests: OipInferRequest[],
  modelName: string,
  signal: AbortSignal,
  limits: { maxRequestBytes: number; jobTimeoutMs: number },
): Promise<OnnxInferResult> {
  const results: OnnxInferResult['results'] = [];
  for (const request of requests) {
    if (signal.aborted) {
      results.push({ ok: false, error: toBody(stoppedError(signal, limits.jobTimeoutMs)) });
      continue;
    }
    try {
      results.push({
        ok: true,
        response: await runOne(ort, m, modelName, request, limits.maxRequestBytes),
      });
    } catch (err) {
      results.push({ ok: false, error: toBody(err) });
    }
  }
  return { results, executionProviders: m.executionProviders };
}

async function runOne(
  ort: Ort,
  m: PackedModel,
  modelName: string,
  request: OipInferRequest,
  maxBytes: number,
): Promise<OipInferResponse> {
  let bytes = 0;
  for (const t of request.inputs) bytes += tensorBytes(t);
  if (bytes > maxBytes) {
    throw new IdlerigError(
      'LIMIT_EXCEEDED',
      `The request's tensors hold ${bytes} bytes, over the limit of ${maxBytes}`,
      { limit: 'maxRequestBytes', max: maxBytes, got: bytes },
    );
  }
  const feeds: Record<string, Tensor> = {};
  const seen = new Set<string>();
  for (const input of request.inputs) {
    const meta = m.inputMeta.get(input.name);
    if (!meta) {
      throw new IdlerigError(
        'INVALID_INPUT',
        `The model has no input named ${JSON.stringify(input.name)}; its inputs are ${m.inputs.map(describeTensor).join(', ')}`,
        { tensor: input.name, expected: m.inputs },
      );
    }
    if (seen.has(input.name))
      throw new IdlerigError(
        'INVALID_INPUT',
        `Input ${JSON.stringify(input.name)} is given twice`,
        {
          tensor: input.name,
        },
      );
    seen.add(input.name);
    feeds[input.name] = toTensor(ort, input, meta);
  }
  for (const info of m.inputs) {
    if (!seen.has(info.name)) {
      throw new IdlerigError('INVALID_INPUT', `Missing input tensor ${describeTensor(info)}`, {
        tensor: info.name,
        expectedShape: info.shape,
        expectedDatatype: info.datatype,
      });
    }
  }
  let fetches: string[] | undefined;
  if (request.outputs && request.outputs.length > 0) {
    fetches = request.outputs.map((o) => o.name);
    for (const name of fetches) {
      if (!m.outputNames.has(name))
        throw new IdlerigError(
          'INVALID_INPUT',
          `The model has no output named ${JSON.stringify(name)}; its outputs are ${m.outputs.map((o) => o.name).join(', ')}`,
          { tensor: name },
        );
    }
  }
  let out: Record<string, Tensor>;
  try {
    out = (fetches ? await m.session.run(feeds, fetches) : await m.session.run(feeds)) as Record<
      string,
      Tensor
    >;
  } catch (err) {
    throw new IdlerigError(
      'INVALID_INPUT',
      `ONNX Runtime refused the input: ${(err as Error).message}`,
    );
  }
  const outputs: OipTensor[] = [];
  for (const name of fetches ?? m.session.outputNames) {
    const t = out[name];
    if (!t) continue;
    outputs.push(fromTensor(name, t));
  }
  return {
    model_name: modelName,
    ...(request.id !== undefined ? { id: request.id } : {}),
    outputs,
  };
}
