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
