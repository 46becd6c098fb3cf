// The supervisor's packing of ONNX requests (electron/provider/engine/onnx-pack.ts): requests
// that all look alike travel as one packed batch, anything that differs in one detail travels
// as separate requests, and a packed answer comes back as one response per request.
import { describe, expect, it } from 'vitest';
import type { OipInferRequest } from '../../shared/engine-protocol';
import { pack, unpack } from '../../electron/provider/engine/onnx-pack';

const request = (i: number, extra: Partial<OipInferRequest> = {}): OipInferRequest => ({
  inputs: [
    {
      name: 'x',
      datatype: 'FP32',
      shape: [1, 3],
      data: Float32Array.of(i, i + 0.5, -i),
    },
  ],
  ...extra,
});

describe('ONNX request packing', () => {
  it('packs alike requests end to end, with ids only when some are given', () => {
    const requests = [request(0), request(1), request(2)];
    const packed = pack(requests)!;
    expect(packed.count).toBe(3);
    expect(packed.ids).toBeUndefined();
    expect(packed.outputs).toBeUndefined();
    expect(packed.inputs).toHaveLength(1);
    expect(packed.inputs[0]).toMatchObject({ name: 'x', datatype: 'FP32', shape: [1, 3] });
    expect(Array.from(packed.inputs[0]!.data as Float32Array)).toEqual([
      0, 0.5, -0, 1, 1.5, -1, 2, 2.5, -2,
    ]);
    const withIds = pack([request(0, { id: 'a' }), request(1), request(2, { id: 'c' })])!;
    expect(withIds.ids).toEqual(['a', null, 'c']);
    const withOutputs = pack([
      request(0, { outputs: [{ name: 'y' }] }),
      request(1, { outputs: [{ name: 'y' }] }),
    ])!;
    expect(withOutputs.outputs).toEqual(['y']);
  });

  it('sends separately when any request differs in one detail, or when there is one', () => {
    const variants: OipInferRequest[] = [
      { inputs: [{ ...request(9).inputs[0]!, name: 'z' }] },
      { inputs: [{ ...request(9).inputs[0]!, datatype: 'FP64', data: Float64Array.of(1, 2, 3) }] },
      { inputs: [{ ...request(9).inputs[0]!, shape: [3, 1] }] },
      { inputs: [{ ...request(9).inputs[0]!, shape: [1, 3, 1] }] },
      { inputs: [{ ...request(9).inputs[0]!, data: [1, 2, 3] }] },
      { inputs: [{ ...request(9).inputs[0]!, data: Float32Array.of(1, 2) }] },
      { inputs: [{ ...request(9).inputs[0]!, data: Float64Array.of(1, 2, 3) }] },
      { inputs: [{ ...request(9).inputs[0]!, parameters: { a: 1 } }] },
      { ...request(9), parameters: { a: 1 } },
      { ...request(9), outputs: [{ name: 'y' }] },
      { inputs: [...request(9).inputs, ...request(9).inputs] },
    ];
    for (const v of variants) {
      expect(pack([request(0), v])).toBeNull();
      expect(pack([v, request(0)])).toBeNull();
    }
    expect(pack([request(0)])).toBeNull();
    expect(pack([])).toBeNull();
    expect(
      pack([
        request(0, { outputs: [{ name: 'y' }] }),
        request(1, { outputs: [{ name: 'y', parameters: { b: 1 } }] }),
      ]),
    ).toBeNull();
  });

  it('unpacks one response per request (views into the answer), and refuses wrong sizes', () => {
    const requests = [request(0, { id: 'a' }), request(1)];
    const data = Float32Array.of(1, 2, 3, 4);
    const responses = unpack(
      { count: 2, outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 2], data }] },
      'm',
      requests,
    );
    expect(responses).toEqual([
      {
        model_name: 'm',
        id: 'a',
        outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 2], data: Float32Array.of(1, 2) }],
      },
      {
        model_name: 'm',
        outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 2], data: Float32Array.of(3, 4) }],
      },
    ]);
    expect('id' in responses[1]!).toBe(false);
    expect((responses[1]!.outputs[0]!.data as Float32Array).buffer).toBe(data.buffer);
    expect(() =>
      unpack(
        { count: 2, outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 3], data }] },
        'm',
        requests,
      ),
    ).toThrow(/wrong sizes/);
    expect(() =>
      unpack(
        { count: 3, outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 2], data }] },
        'm',
        requests,
      ),
    ).toThrow(/wrong sizes/);
  });
});
