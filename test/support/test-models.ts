/**
 * A small real ONNX model package for tests that need many fast jobs: a CT threshold
 * (HU > threshold) generated with the repository's ONNX writer, run by the real onnxruntime.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { PlanarImage } from '../../src/image/planar-image';
import { DataType, encodeModel, type NodeSpec, type TensorSpec, type ValueSpec } from '../../src/inference/onnx-proto';

/** Writes a test package: the ONNX bytes and a manifest with their checksum (fields of `manifest` win). */
function writePackage(modelsDir: string, id: string, bytes: Uint8Array, manifest: Record<string, unknown>): void {
  const pkg = path.join(modelsDir, id);
  fs.mkdirSync(pkg, { recursive: true });
  fs.writeFileSync(path.join(pkg, 'model.onnx'), bytes);
  fs.writeFileSync(
    path.join(pkg, 'manifest.json'),
    JSON.stringify({
      id,
      version: '1.0.0',
      file: 'model.onnx',
      sha256: crypto.createHash('sha256').update(bytes).digest('hex'),
      licence: 'Apache-2.0',
      ...manifest,
    }),
  );
}

export function thresholdModelPackage(modelsDir: string, id: string, thresholdHu: number): void {
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
  const c = (value: string, scheme: string, meaning: string): Record<string, string> => ({ value, scheme, meaning });
  writePackage(modelsDir, id, bytes, {
    task: 'segmentation',
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
  });
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
  channels: number;
  size: number;
  /** [channels x 4 quadrants (top-left, top-right, bottom-left, bottom-right)][classes]. */
  weights: number[][];
  bias: number[];
}

/**
 * The grey two-class fixture several tests use: logit 0 is 4 x (top-left mean - bottom-right mean)
 * + 0.25, logit 1 is 0.
 */
export const GREY_QUADRANTS: QuadrantClassifier = {
  channels: 1,
  size: 64,
  weights: [
    [4, 0],
    [0, 0],
    [0, 0],
    [-4, 0],
  ],
  bias: [0.25, 0],
};

/**
 * What the quadrant classifier sees, computed independently: the mean of each quadrant of each
 * channel of the source image (top-left, top-right, bottom-left, bottom-right).
 */
export function quadrantMeans(img: Pick<PlanarImage, 'rows' | 'columns' | 'channels' | 'pixels'>): number[] {
  const out: number[] = [];
  const hr = img.rows / 2;
  const hc = img.columns / 2;
  for (let c = 0; c < img.channels; c++)
    for (const [r0, c0] of [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
    ]) {
      let sum = 0;
      let n = 0;
      for (let y = Math.round(r0 * hr); y < Math.round((r0 + 1) * hr); y++)
        for (let x = Math.round(c0 * hc); x < Math.round((c0 + 1) * hc); x++) {
          sum += img.pixels[c * img.rows * img.columns + y * img.columns + x];
          n++;
        }
      out.push(sum / n);
    }
  return out;
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
  const bytes = quadrantClassifierOnnx(m);
  writePackage(modelsDir, id, bytes, {
    task: 'classification',
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
  });
}

/**
 * The peak detectors' common graph (2D or 3D by `dims`): `input` smoothed by a mean of
 * `smooth` voxels a side, a voxel that is the maximum of its `neighbourhood` and above
 * `threshold` scoring its smoothed value, 0 elsewhere (`score_map`).
 */
function peakNodes(input: string, dims: 2 | 3, smooth: number, neighbourhood: number): NodeSpec[] {
  const pool = (op: string, name: string, from: string, to: string, k: number): NodeSpec => ({
    op,
    name,
    inputs: [from],
    outputs: [to],
    attributes: [
      { name: 'kernel_shape', ints: Array(dims).fill(k) },
      { name: 'pads', ints: Array(2 * dims).fill((k - 1) / 2) },
      { name: 'strides', ints: Array(dims).fill(1) },
    ],
  });
  const toFloat = (name: string, from: string, to: string): NodeSpec => ({
    op: 'Cast',
    name,
    inputs: [from],
    outputs: [to],
    attributes: [{ name: 'to', int: DataType.FLOAT }],
  });
  return [
    pool('AveragePool', 'smooth', input, 'smoothed', smooth),
    pool('MaxPool', 'neighbourhood', 'smoothed', 'local_max', neighbourhood),
    { op: 'Equal', name: 'is_peak', inputs: ['smoothed', 'local_max'], outputs: ['peak_b'] },
    toFloat('peak_f', 'peak_b', 'peak'),
    { op: 'Greater', name: 'is_bright', inputs: ['smoothed', 'threshold'], outputs: ['bright_b'] },
    toFloat('bright_f', 'bright_b', 'bright'),
    { op: 'Mul', name: 'peak_bright', inputs: ['peak', 'bright'], outputs: ['mask'] },
    { op: 'Mul', name: 'score', inputs: ['mask', 'smoothed'], outputs: ['score_map'] },
  ];
}

/**
 * A detector whose findings are known from the input: the image smoothed by a 5 x 5 mean, and
 * every pixel that is the maximum of its 9 x 9 neighbourhood and brighter than `threshold` is a
 * finding of class 0 with that smoothed value as its score, a `box` x `box` square centred on it.
 * Written as a dense YOLO-style head [1, size^2, 6] (cx, cy, w, h, objectness, class score), or
 * as the boxes/scores/labels triple ([N, 4] xyxy, [N], [N] int64). Test fixture only.
 */
export interface PeakDetector {
  size: number;
  threshold: number;
  box: number;
  format: 'yolo' | 'boxes-scores-labels';
}

export function peakDetectorOnnx(m: PeakDetector): Uint8Array {
  const n = m.size * m.size;
  const centres: number[] = [];
  for (let y = 0; y < m.size; y++) for (let x = 0; x < m.size; x++) centres.push(x + 0.5, y + 0.5);
  const nodes: NodeSpec[] = peakNodes('image', 2, 5, 9);
  const initializers: TensorSpec[] = [
    { name: 'threshold', dataType: DataType.FLOAT, dims: [], floats: [m.threshold] },
    { name: 'centres', dataType: DataType.FLOAT, dims: [1, n, 2], floats: centres },
  ];
  let outputs: ValueSpec[];
  if (m.format === 'yolo') {
    nodes.push(
      { op: 'Reshape', name: 'flat', inputs: ['score_map', 'column_shape'], outputs: ['objectness'] },
      {
        op: 'Concat',
        name: 'head',
        inputs: ['centres', 'sizes', 'objectness', 'ones'],
        outputs: ['predictions'],
        attributes: [{ name: 'axis', int: 2 }],
      },
    );
    initializers.push(
      { name: 'column_shape', dataType: DataType.INT64, dims: [3], int64s: [1, n, 1] },
      { name: 'sizes', dataType: DataType.FLOAT, dims: [1, n, 2], floats: Array(2 * n).fill(m.box) },
      { name: 'ones', dataType: DataType.FLOAT, dims: [1, n, 1], floats: Array(n).fill(1) },
    );
    outputs = [{ name: 'predictions', dataType: DataType.FLOAT, shape: [1, n, 6] }];
  } else {
    const half = m.box / 2;
    const corners: number[] = [];
    for (let i = 0; i < n; i++)
      corners.push(centres[2 * i] - half, centres[2 * i + 1] - half, centres[2 * i] + half, centres[2 * i + 1] + half);
    nodes.push(
      { op: 'Reshape', name: 'flat', inputs: ['score_map', 'flat_shape'], outputs: ['scores'] },
      { op: 'Identity', name: 'boxes_out', inputs: ['corners'], outputs: ['boxes'] },
      { op: 'Identity', name: 'labels_out', inputs: ['zeros'], outputs: ['labels'] },
    );
    initializers.push(
      { name: 'flat_shape', dataType: DataType.INT64, dims: [1], int64s: [n] },
      { name: 'corners', dataType: DataType.FLOAT, dims: [n, 4], floats: corners },
      { name: 'zeros', dataType: DataType.INT64, dims: [n], int64s: Array(n).fill(0) },
    );
    outputs = [
      { name: 'boxes', dataType: DataType.FLOAT, shape: [n, 4] },
      { name: 'scores', dataType: DataType.FLOAT, shape: [n] },
      { name: 'labels', dataType: DataType.INT64, shape: [n] },
    ];
  }
  return encodeModel({
    graphName: 'peak-detector',
    producerName: 'ainode test',
    producerVersion: '1',
    docString: 'local maxima of a smoothed image',
    opsetVersion: 13,
    nodes,
    initializers,
    inputs: [{ name: 'image', dataType: DataType.FLOAT, shape: [1, 1, m.size, m.size] }],
    outputs,
  });
}

/** A detection package around peakDetectorOnnx; `manifest` adds to or replaces its fields. */
export function detectorModelPackage(
  modelsDir: string,
  id: string,
  m: PeakDetector,
  manifest: Record<string, unknown>,
): void {
  const bytes = peakDetectorOnnx(m);
  const yolo = m.format === 'yolo';
  writePackage(modelsDir, id, bytes, {
    task: 'detection',
    description: 'test fixture: local maxima of a smoothed image',
    accepts: { modality: ['DX', 'CR', 'MG', 'RG'] },
    input: { name: 'image', channels: 1 },
    output: { name: yolo ? 'predictions' : 'scores', channels: 1 },
    image: { size: [m.size, m.size], fit: 'letterbox', voi: 'minmax', colour: 'grey' },
    preprocess: { normalize: { method: 'none' } },
    classes: [{ index: 0, name: 'Bright spot', finding: { value: '4147007', scheme: 'SCT', meaning: 'Mass' } }],
    detection: {
      format: m.format,
      outputs: yolo ? { predictions: 'predictions' } : { boxes: 'boxes', scores: 'scores', labels: 'labels' },
      scoreThreshold: m.threshold,
      iou: 0.3,
      maxDetections: 20,
    },
    procedureReported: { value: '36572-6', scheme: 'LN', meaning: 'Chest X-ray' },
    seriesNumbers: { sr: 9401 },
    ...manifest,
  });
}

/**
 * A volume detector whose findings are known from the input: the volume smoothed by a 3 x 3 x 3
 * mean; every voxel that is the maximum of its 5 x 5 x 5 neighbourhood and above `threshold` is
 * a finding with that value as its score, a `box`-voxel cube centred on it, written as boxes
 * [N, 6] (x0 y0 z0 x1 y1 z1 in voxel coordinates), scores [N] and labels [N]. Test fixture only.
 */
export function volumePeakDetectorOnnx(m: {
  slices: number;
  rows: number;
  columns: number;
  threshold: number;
  box: number;
}): Uint8Array {
  const n = m.slices * m.rows * m.columns;
  const corners: number[] = [];
  const h = m.box / 2;
  for (let z = 0; z < m.slices; z++)
    for (let y = 0; y < m.rows; y++)
      for (let x = 0; x < m.columns; x++)
        corners.push(x + 0.5 - h, y + 0.5 - h, z + 0.5 - h, x + 0.5 + h, y + 0.5 + h, z + 0.5 + h);
  return encodeModel({
    graphName: 'volume-peak-detector',
    producerName: 'ainode test',
    producerVersion: '1',
    docString: 'local maxima of a smoothed volume',
    opsetVersion: 13,
    nodes: [
      ...peakNodes('volume', 3, 3, 5),
      { op: 'Reshape', name: 'flat', inputs: ['score_map', 'flat_shape'], outputs: ['scores'] },
      { op: 'Identity', name: 'boxes_out', inputs: ['corners'], outputs: ['boxes'] },
      { op: 'Identity', name: 'labels_out', inputs: ['zeros'], outputs: ['labels'] },
    ],
    initializers: [
      { name: 'threshold', dataType: DataType.FLOAT, dims: [], floats: [m.threshold] },
      { name: 'flat_shape', dataType: DataType.INT64, dims: [1], int64s: [n] },
      { name: 'corners', dataType: DataType.FLOAT, dims: [n, 6], floats: corners },
      { name: 'zeros', dataType: DataType.INT64, dims: [n], int64s: Array(n).fill(0) },
    ],
    inputs: [{ name: 'volume', dataType: DataType.FLOAT, shape: [1, 1, m.slices, m.rows, m.columns] }],
    outputs: [
      { name: 'boxes', dataType: DataType.FLOAT, shape: [n, 6] },
      { name: 'scores', dataType: DataType.FLOAT, shape: [n] },
      { name: 'labels', dataType: DataType.INT64, shape: [n] },
    ],
  });
}

/** A volume detection package around volumePeakDetectorOnnx, for CT in HU windowed to 0..1. */
export function volumeDetectorModelPackage(
  modelsDir: string,
  id: string,
  m: { slices: number; rows: number; columns: number; threshold: number; box: number },
): void {
  const bytes = volumePeakDetectorOnnx(m);
  writePackage(modelsDir, id, bytes, {
    task: 'detection',
    level: 'series',
    description: 'test fixture: local maxima of a smoothed volume',
    accepts: { modality: ['CT'], slices: { min: 8 } },
    input: { name: 'volume', channels: 1 },
    output: { name: 'scores', channels: 1 },
    preprocess: { clip: [-1000, 400], normalize: { method: 'fixed', offset: -1000, scale: 1 / 1400 } },
    classes: [{ index: 0, name: 'Nodule', finding: { value: '27925004', scheme: 'SCT', meaning: 'Nodule' } }],
    detection: {
      format: 'boxes-scores-labels',
      outputs: { boxes: 'boxes', scores: 'scores', labels: 'labels' },
      scoreThreshold: m.threshold,
      iou: 0.2,
      maxDetections: 10,
    },
    procedureReported: { value: '24627-2', scheme: 'LN', meaning: 'CT Chest' },
    seriesNumbers: { sr: 9501 },
  });
}
