/**
 * Generates models/ct-lung/model.onnx: the "air inside the chest" stage of the CT lung model, as an
 * ONNX operator graph (no learned weights). Run `npm run build && node dist/scripts/build-ct-lung-model.js`
 * and diff the file; the output is byte-for-byte deterministic.
 *
 * Graph: input `ct_hu` float32 [1,1,slices,rows,columns] in Hounsfield units ->
 *   air     = hu < -400                                  (lung parenchyma and air)
 *   opened  = dilate(erode(air))   with a 1x3x3 kernel  (removes noise specks)
 *   closed  = erode(dilate(opened)) with a 1x5x5 kernel (fills small vessels inside the lung)
 * -> output `air_mask` uint8 [1,1,slices,rows,columns] (1 = air).
 * Dilation is MaxPool (stride 1, "same" padding); erosion is 1 - MaxPool(1 - x).
 * Connected components and the left/right split follow in TypeScript (src/inference/ct-lung/).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as crypto from 'crypto';
import { DataType, encodeModel, type NodeSpec } from '../src/inference/onnx-proto';

export const AIR_THRESHOLD_HU = -400;

function pool(name: string, input: string, output: string, k: number): NodeSpec {
  const p = (k - 1) / 2;
  return {
    op: 'MaxPool',
    name,
    inputs: [input],
    outputs: [output],
    attributes: [
      { name: 'kernel_shape', ints: [1, k, k] },
      { name: 'pads', ints: [0, p, p, 0, p, p] },
      { name: 'strides', ints: [1, 1, 1] },
    ],
  };
}

function dilate(name: string, input: string, output: string, k: number): NodeSpec[] {
  return [pool(name, input, output, k)];
}

function erode(name: string, input: string, output: string, k: number): NodeSpec[] {
  return [
    { op: 'Sub', name: `${name}_invert`, inputs: ['one', input], outputs: [`${name}_inv`] },
    pool(`${name}_pool`, `${name}_inv`, `${name}_inv_dilated`, k),
    { op: 'Sub', name: `${name}_restore`, inputs: ['one', `${name}_inv_dilated`], outputs: [output] },
  ];
}

export function buildCtLungModel(): Uint8Array {
  const dims = [1, 1, 'slices', 'rows', 'columns'];
  const nodes: NodeSpec[] = [
    { op: 'Less', name: 'threshold', inputs: ['ct_hu', 'air_threshold'], outputs: ['air_bool'] },
    {
      op: 'Cast',
      name: 'to_float',
      inputs: ['air_bool'],
      outputs: ['air'],
      attributes: [{ name: 'to', int: DataType.FLOAT }],
    },
    ...erode('open_erode', 'air', 'open_eroded', 3),
    ...dilate('open_dilate', 'open_eroded', 'opened', 3),
    ...dilate('close_dilate', 'opened', 'close_dilated', 5),
    ...erode('close_erode', 'close_dilated', 'closed', 5),
    {
      op: 'Cast',
      name: 'to_uint8',
      inputs: ['closed'],
      outputs: ['air_mask'],
      attributes: [{ name: 'to', int: DataType.UINT8 }],
    },
  ];
  return encodeModel({
    graphName: 'ct_lung_air',
    producerName: 'ainode scripts/build-ct-lung-model.ts',
    producerVersion: '1',
    docString: `CT lung model, stage 1: air (HU < ${AIR_THRESHOLD_HU}) with morphological opening (1x3x3) and closing (1x5x5).`,
    opsetVersion: 13,
    nodes,
    initializers: [
      { name: 'air_threshold', dataType: DataType.FLOAT, dims: [], floats: [AIR_THRESHOLD_HU] },
      { name: 'one', dataType: DataType.FLOAT, dims: [], floats: [1] },
    ],
    inputs: [{ name: 'ct_hu', dataType: DataType.FLOAT, shape: dims }],
    outputs: [{ name: 'air_mask', dataType: DataType.UINT8, shape: dims }],
  });
}

if (require.main === module) {
  const out = path.resolve(__dirname, '..', '..', 'models', 'ct-lung', 'model.onnx');
  const bytes = buildCtLungModel();
  fs.writeFileSync(out, bytes);
  const sha = crypto.createHash('sha256').update(bytes).digest('hex');
  process.stdout.write(`wrote ${out} (${bytes.length} bytes, sha256 ${sha})\n`);
}
