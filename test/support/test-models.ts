/**
 * A small real ONNX model package for tests that need many fast jobs: a CT threshold
 * (HU > threshold) generated with the repository's ONNX writer, run by the real onnxruntime.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { DataType, encodeModel } from '../../src/inference/onnx-proto';

export function thresholdModelPackage(modelsDir: string, id: string, thresholdHu: number): void {
  const pkg = path.join(modelsDir, id);
  fs.mkdirSync(pkg, { recursive: true });
  const bytes = encodeModel({
    graphName: id,
    producerName: 'ainode test',
    producerVersion: '1',
    docString: `HU > ${thresholdHu}`,
    opsetVersion: 13,
    nodes: [
      { op: 'Greater', name: 'gt', inputs: ['ct_hu', 't'], outputs: ['b'] },
      { op: 'Cast', name: 'cast', inputs: ['b'], outputs: ['mask'], attributes: [{ name: 'to', int: DataType.UINT8 }] },
    ],
    initializers: [{ name: 't', dataType: DataType.FLOAT, dims: [], floats: [thresholdHu] }],
    inputs: [{ name: 'ct_hu', dataType: DataType.FLOAT, shape: [1, 1, 'd', 'h', 'w'] }],
    outputs: [{ name: 'mask', dataType: DataType.UINT8, shape: [1, 1, 'd', 'h', 'w'] }],
  });
  fs.writeFileSync(path.join(pkg, 'model.onnx'), bytes);
  const c = (value: string, scheme: string, meaning: string): Record<string, string> => ({ value, scheme, meaning });
  fs.writeFileSync(
    path.join(pkg, 'manifest.json'),
    JSON.stringify({
      id,
      version: '1.0.0',
      task: 'segmentation',
      file: 'model.onnx',
      sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
      licence: 'Apache-2.0',
      description: `test: tissue above ${thresholdHu} HU`,
      accepts: { modality: ['CT'], slices: { min: 2 } },
      input: { name: 'ct_hu', channels: 1 },
      output: { name: 'mask', channels: 1 },
      preprocess: { normalize: { method: 'none' } },
      inference: { mode: 'whole' },
      postprocess: { activation: 'none' },
      segments: [
        {
          label: 1,
          name: 'Dense tissue',
          category: c('123037004', 'SCT', 'Anatomical Structure'),
          type: c('91723000', 'SCT', 'Anatomical structure'),
        },
      ],
      measurements: [{ kind: 'volume' }, { kind: 'meanIntensity', unit: c("[hnsf'U]", 'UCUM', 'Hounsfield unit') }],
      procedureReported: c('24558-9', 'LN', 'CT Abdomen'),
      seriesNumbers: { seg: 9101, sr: 9102 },
    }),
  );
}

export function anyCtRules(file: string, modelId: string): void {
  fs.writeFileSync(
    file,
    `version: 1\nrules:\n  - name: any-ct\n    models: [${modelId}]\n    series:\n      - attribute: Modality\n        equals: CT\n`,
  );
}

/**
 * A classifier whose output is a known function of the input: the mean of each quadrant of each
 * channel (AveragePool over a quarter of the input), times a fixed matrix, plus a bias. A test
 * computes the expected logits from the image itself. Test fixture only, never a clinical model.
 */
export interface QuadrantClassifier {
  channels: 1 | 3;
  size: number;
  /** [channels x 4 quadrants (top-left, top-right, bottom-left, bottom-right)][classes]. */
  weights: number[][];
  bias: number[];
}

export function quadrantClassifierOnnx(m: QuadrantClassifier): Uint8Array {
  const half = m.size / 2;
  const k = m.bias.length;
  return encodeModel({
    graphName: 'quadrant-classifier',
    producerName: 'ainode test',
    producerVersion: '1',
    docString: 'logits = quadrant means x W + b',
    opsetVersion: 13,
    nodes: [
      {
        op: 'AveragePool',
        name: 'quadrants',
        inputs: ['image'],
        outputs: ['means'],
        attributes: [
          { name: 'kernel_shape', ints: [half, half] },
          { name: 'strides', ints: [half, half] },
        ],
      },
      { op: 'Reshape', name: 'flat', inputs: ['means', 'flat_shape'], outputs: ['features'] },
      { op: 'MatMul', name: 'linear', inputs: ['features', 'w'], outputs: ['scaled'] },
      { op: 'Add', name: 'bias', inputs: ['scaled', 'b'], outputs: ['logits'] },
    ],
    initializers: [
      { name: 'flat_shape', dataType: DataType.INT64, dims: [2], int64s: [1, m.channels * 4] },
      { name: 'w', dataType: DataType.FLOAT, dims: [m.channels * 4, k], floats: m.weights.flat() },
      { name: 'b', dataType: DataType.FLOAT, dims: [k], floats: m.bias },
    ],
    inputs: [{ name: 'image', dataType: DataType.FLOAT, shape: [1, m.channels, m.size, m.size] }],
    outputs: [{ name: 'logits', dataType: DataType.FLOAT, shape: [1, k] }],
  });
}

/** A classification package around quadrantClassifierOnnx; `manifest` adds to or replaces its fields. */
export function classifierModelPackage(
  modelsDir: string,
  id: string,
  m: QuadrantClassifier,
  manifest: Record<string, unknown>,
): void {
  const pkg = path.join(modelsDir, id);
  fs.mkdirSync(pkg, { recursive: true });
  const bytes = quadrantClassifierOnnx(m);
  fs.writeFileSync(path.join(pkg, 'model.onnx'), bytes);
  fs.writeFileSync(
    path.join(pkg, 'manifest.json'),
    JSON.stringify({
      id,
      version: '1.0.0',
      task: 'classification',
      file: 'model.onnx',
      sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
      licence: 'Apache-2.0',
      description: 'test fixture: quadrant means x W + b',
      accepts: { modality: ['CR', 'DX'] },
      input: { name: 'image', channels: m.channels },
      output: { name: 'logits', channels: m.bias.length },
      image: { size: [m.size, m.size], fit: 'stretch', voi: 'header', colour: m.channels === 3 ? 'rgb' : 'grey' },
      preprocess: { normalize: { method: 'none' } },
      classification: { activation: 'softmax' },
      procedureReported: { value: '36572-6', scheme: 'LN', meaning: 'Chest X-ray' },
      seriesNumbers: { sr: 9201 },
      ...manifest,
    }),
  );
}
