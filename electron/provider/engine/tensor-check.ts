// A tensor job's inputs against the model's own description (names, datatypes, shapes, element
// counts), checked in the node before the job is taken: a job refused for its input never
// reaches the engine, nor the energy ledger. The engine checks again (electron/engine/onnx.ts):
// it is the authority; this is the early, cheap answer.
import { IdlerigError } from '../../../shared/errors';
import type { OipInferRequest, TensorInfo } from '../../../shared/engine-protocol';

function describe(t: TensorInfo): string {
  return `${t.name} (${t.datatype} [${t.shape.map((d) => (d < 0 ? '?' : String(d))).join(', ')}])`;
}

/** Elements of nested or flat JSON data, or a typed array's length. */
function elements(data: unknown): number {
  if (ArrayBuffer.isView(data)) return (data as unknown as { length: number }).length;
  if (!Array.isArray(data)) return 1;
  let n = 0;
  for (const v of data) n += Array.isArray(v) ? elements(v) : 1;
  return n;
}

/** Throws INVALID_INPUT naming the first input that does not fit the model. */
export function checkTensorInputs(request: OipInferRequest, inputs: readonly TensorInfo[]): void {
  const byName = new Map(inputs.map((t) => [t.name, t]));
  const seen = new Set<string>();
  for (const t of request.inputs) {
    const info = byName.get(t.name);
    if (!info) {
      throw new IdlerigError(
        'INVALID_INPUT',
        `The model has no input named ${JSON.stringify(t.name)}; its inputs are ${inputs.map(describe).join(', ')}`,
        { tensor: t.name },
      );
    }
    if (seen.has(t.name))
      throw new IdlerigError('INVALID_INPUT', `Input ${JSON.stringify(t.name)} is given twice`, {
        tensor: t.name,
      });
    seen.add(t.name);
    const fits =
      t.datatype === info.datatype &&
      t.shape.length === info.shape.length &&
      info.shape.every((d, i) => d < 0 || d === t.shape[i]);
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (!fits || elements(t.data) !== count) {
      throw new IdlerigError(
        'INVALID_INPUT',
        `Input tensor ${JSON.stringify(t.name)}: ${
          fits
            ? `${elements(t.data)} elements given for ${count}`
            : `${t.datatype} [${t.shape.join(', ')}] given`
        }; the model expects ${describe(info)}`,
        { tensor: t.name, expectedShape: info.shape, expectedDatatype: info.datatype },
      );
    }
  }
  for (const info of inputs) {
    if (!seen.has(info.name))
      throw new IdlerigError('INVALID_INPUT', `Missing input tensor ${describe(info)}`, {
        tensor: info.name,
        expectedShape: info.shape,
        expectedDatatype: info.datatype,
      });
  }
}
