/**
 * The model package manifest (models/<id>/manifest.json): one schema, validated strictly at load
 * time. Unknown fields are refused (a typo must not silently change preprocessing), and every
 * problem is reported with the JSON path of the bad field.
 *
 * The manifest declares what a model accepts, how its input is prepared, how it is run, how its
 * output is post-processed and how the result becomes SEG segments and SR measurements, so a new
 * package runs without code changes. See docs/models.md for every field.
 */
import { AinodeError } from '../errors';
import type { Code } from '../dicom/codes';

import type { Orientation } from '../contracts/geometry';
export interface SeriesAcceptance {
  modality: string[];
  /** BodyPartExamined values; when the attribute is missing, bodyPartPattern on the descriptions decides. */
  bodyPart?: string[];
  /** Regular expression (case-insensitive) on study/series description and protocol name, used when BodyPartExamined is missing. */
  bodyPartPattern?: string;
  /** Regular expression (case-insensitive) that the series description or protocol name must match (e.g. "t1|mprage"). */
  descriptionPattern?: string;
  orientation?: Orientation[];
  slices?: { min?: number; max?: number };
  sliceSpacingMm?: { min?: number; max?: number };
}

export interface Preprocess {
  /** Reorient to these voxel axes (e.g. "LIA": i->Left, j->Inferior, k->Anterior). */
  reorient?: string;
  /** Resample to a fixed grid, centred on the source volume. */
  resample?: { shape?: [number, number, number]; spacingMm?: [number, number, number] };
  clip?: [number, number];
  normalize: Normalize;
  /** Multi-channel input: one intensity transform per channel (e.g. a lung and a mediastinal
   * CT window); when absent the single channel uses `clip` and `normalize`. */
  channels?: { clip?: [number, number]; normalize: Normalize }[];
}

export type Normalize =
  { method: 'minmax' } | { method: 'zscore' } | { method: 'fixed'; offset: number; scale: number } | { method: 'none' };

export interface InferenceSpec {
  mode: 'whole' | 'slice' | 'sliding-window';
  /** Sliding window patch [slices, rows, columns]. */
  patch?: [number, number, number];
  overlap?: number;
  blend?: 'gaussian' | 'constant';
  batchSize?: number;
}

export interface Postprocess {
  activation: 'argmax' | 'sigmoid' | 'none';
  threshold?: number;
  /** Keep only the largest connected component of each label. */
  largestComponent?: boolean;
  /** Fill enclosed holes of each label. */
  fillHoles?: boolean;
  /** A named TypeScript post-processing step (e.g. "ct-lung-left-right"). */
  custom?: 'ct-lung-left-right';
}

export interface SegmentSpec {
  /** Output label value (after post-processing) of this segment. */
  label: number;
  name: string;
  category: Code;
  type: Code;
  anatomicRegion?: Code;
  colorCIELab?: [number, number, number];
}

export type MeasurementSpec =
  { kind: 'volume' } | { kind: 'meanIntensity'; unit: Code } | { kind: 'percentBelow'; threshold: number; code: Code };

/** A measurement group not tied to one segment: every declared measurement over the union of
 * some labels (volumes add up), and ratios of segment volumes. */
export interface DerivedSpec {
  name: string;
  finding: Code;
  union?: number[];
  ratios?: { numerator: number; denominator: number; code: Code }[];
  /** Qualitative evaluations: a coded finding answered Yes/No from a threshold on the union's
   * percent-below measurement (e.g. emphysema if %LAA-950 >= 6). */
  qualitative?: { concept: Code; percentBelow: number; atLeast: number }[];
}

export interface ModelManifest {
  id: string;
  version: string;
  task: 'segmentation' | 'classification' | 'detection';
  file: string;
  sha256: string;
  licence: string;
  description: string;
  accepts: SeriesAcceptance;
  input: { name: string; channels: number };
  output: { name: string; channels: number };
  preprocess: Preprocess;
  inference: InferenceSpec;
  postprocess: Postprocess;
  segments: SegmentSpec[];
  measurements: MeasurementSpec[];
  derived: DerivedSpec[];
  procedureReported: Code;
  /** Algorithm family (CID 7162), e.g. (123110, DCM, "Artificial Intelligence"). */
  algorithmFamily: Code;
  /** SEG/SR series numbers of this model's results. */
  seriesNumbers: { seg: number; sr: number };
}

type Obj = Record<string, unknown>;

class Checker {
  constructor(private readonly file: string) {}

  fail(path: string, msg: string): never {
    throw new AinodeError('MODEL_PACKAGE_INVALID', `${this.file}: ${path || '/'} ${msg}`);
  }

  obj(v: unknown, path: string, allowed: string[], required: string[] = []): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, 'must be an object');
    const o = v as Obj;
    for (const k of Object.keys(o))
      if (!allowed.includes(k)) this.fail(`${path}/${k}`, `is not a known field (allowed: ${allowed.join(', ')})`);
    for (const k of required) if (o[k] === undefined) this.fail(`${path}/${k}`, 'is required');
    return o;
  }

  str(v: unknown, path: string, pattern?: RegExp): string {
    if (typeof v !== 'string' || v === '') this.fail(path, 'must be a non-empty string');
    if (pattern && !pattern.test(v)) this.fail(path, `must match ${pattern}`);
    return v;
  }

  num(v: unknown, path: string, min = -Infinity, max = Infinity, integer = false): number {
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(path, 'must be a number');
    if (integer && !Number.isInteger(v)) this.fail(path, 'must be an integer');
    if (v < min || v > max) this.fail(path, `must be between ${min} and ${max}`);
    return v;
  }

  bool(v: unknown, path: string): boolean {
    if (typeof v !== 'boolean') this.fail(path, 'must be true or false');
    return v;
  }

  oneOf<T extends string>(v: unknown, path: string, allowed: readonly T[]): T {
    if (typeof v !== 'string' || !allowed.includes(v as T)) this.fail(path, `must be one of ${allowed.join(', ')}`);
    return v as T;
  }

  arr<T>(v: unknown, path: string, each: (x: unknown, p: string) => T, minLength = 0): T[] {
    if (!Array.isArray(v)) this.fail(path, 'must be an array');
    if (v.length < minLength) this.fail(path, `must have at least ${minLength} item(s)`);
    return v.map((x, i) => each(x, `${path}/${i}`));
  }

  triple(v: unknown, path: string, min: number): [number, number, number] {
    const a = this.arr(v, path, (x, p) => this.num(x, p, min));
    if (a.length !== 3) this.fail(path, 'must have 3 numbers');
    return a as [number, number, number];
  }

  code(v: unknown, path: string): Code {
    const o = this.obj(v, path, ['value', 'scheme', 'meaning'], ['value', 'scheme', 'meaning']);
    return {
      value: this.str(o.value, `${path}/value`),
      scheme: this.str(o.scheme, `${path}/scheme`),
      meaning: this.str(o.meaning, `${path}/meaning`),
    };
  }

  range(v: unknown, path: string): { min?: number; max?: number } {
    const o = this.obj(v, path, ['min', 'max']);
    return {
      ...(o.min !== undefined ? { min: this.num(o.min, `${path}/min`) } : {}),
      ...(o.max !== undefined ? { max: this.num(o.max, `${path}/max`) } : {}),
    };
  }
}

const AXES = /^(?:[LR][AP][SI]|[LR][SI][AP]|[AP][LR][SI]|[AP][SI][LR]|[SI][LR][AP]|[SI][AP][LR])$/;

export function parseManifest(raw: unknown, file: string): ModelManifest {
  const c = new Checker(file);
  const top = [
    'id',
    'version',
    'task',
    'file',
    'sha256',
    'licence',
    'description',
    'accepts',
    'input',
    'output',
    'preprocess',
    'inference',
    'postprocess',
    'segments',
    'measurements',
    'derived',
    'procedureReported',
    'algorithmFamily',
    'seriesNumbers',
  ];
  const m = c.obj(
    raw,
    '',
    [...top, '$comment'],
    top.filter((k) => k !== 'derived' && k !== 'algorithmFamily'),
  );

  const a = c.obj(
    m.accepts,
    '/accepts',
    ['modality', 'bodyPart', 'bodyPartPattern', 'descriptionPattern', 'orientation', 'slices', 'sliceSpacingMm'],
    ['modality'],
  );
  const accepts: SeriesAcceptance = { modality: c.arr(a.modality, '/accepts/modality', (x, p) => c.str(x, p), 1) };
  if (a.bodyPart !== undefined)
    accepts.bodyPart = c.arr(a.bodyPart, '/accepts/bodyPart', (x, p) => c.str(x, p).toUpperCase());
  const regex = (v: unknown, p: string): string => {
    const r = c.str(v, p);
    try {
      new RegExp(r, 'i');
    } catch (e) {
      c.fail(p, `is not a regular expression: ${(e as Error).message}`);
    }
    return r;
  };
  if (a.bodyPartPattern !== undefined) accepts.bodyPartPattern = regex(a.bodyPartPattern, '/accepts/bodyPartPattern');
  if (a.descriptionPattern !== undefined)
    accepts.descriptionPattern = regex(a.descriptionPattern, '/accepts/descriptionPattern');
  if (a.orientation !== undefined)
    accepts.orientation = c.arr(a.orientation, '/accepts/orientation', (x, p) =>
      c.oneOf(x, p, ['axial', 'coronal', 'sagittal'] as const),
    );
  if (a.slices !== undefined) accepts.slices = c.range(a.slices, '/accepts/slices');
  if (a.sliceSpacingMm !== undefined) accepts.sliceSpacingMm = c.range(a.sliceSpacingMm, '/accepts/sliceSpacingMm');

  const io = (v: unknown, p: string): { name: string; channels: number } => {
    const o = c.obj(v, p, ['name', 'channels'], ['name', 'channels']);
    return { name: c.str(o.name, `${p}/name`), channels: c.num(o.channels, `${p}/channels`, 1, 1024, true) };
  };

  const pre = c.obj(
    m.preprocess,
    '/preprocess',
    ['reorient', 'resample', 'clip', 'normalize', 'channels'],
    ['normalize'],
  );
  const preprocess: Preprocess = { normalize: { method: 'none' } };
  if (pre.reorient !== undefined) preprocess.reorient = c.str(pre.reorient, '/preprocess/reorient', AXES);
  if (pre.resample !== undefined) {
    const r = c.obj(pre.resample, '/preprocess/resample', ['shape', 'spacingMm']);
    preprocess.resample = {};
    if (r.shape !== undefined)
      preprocess.resample.shape = c
        .triple(r.shape, '/preprocess/resample/shape', 1)
        .map((x, i) => c.num(x, `/preprocess/resample/shape/${i}`, 1, 4096, true)) as [number, number, number];
    if (r.spacingMm !== undefined)
      preprocess.resample.spacingMm = c.triple(r.spacingMm, '/preprocess/resample/spacingMm', 1e-3);
    if (!preprocess.resample.shape && !preprocess.resample.spacingMm)
      c.fail('/preprocess/resample', 'needs shape, spacingMm or both');
  }
  const clipOf = (v: unknown, p: string): [number, number] => {
    const cl = c.arr(v, p, (x, q) => c.num(x, q));
    if (cl.length !== 2 || cl[0] >= cl[1]) c.fail(p, 'must be [low, high] with low < high');
    return [cl[0], cl[1]];
  };
  const normalizeOf = (v: unknown, p: string): Normalize => {
    const n = c.obj(v, p, ['method', 'offset', 'scale'], ['method']);
    const method = c.oneOf(n.method, `${p}/method`, ['minmax', 'zscore', 'fixed', 'none'] as const);
    return method === 'fixed'
      ? { method, offset: c.num(n.offset, `${p}/offset`), scale: c.num(n.scale, `${p}/scale`) }
      : { method };
  };
  if (pre.clip !== undefined) preprocess.clip = clipOf(pre.clip, '/preprocess/clip');
  preprocess.normalize = normalizeOf(pre.normalize, '/preprocess/normalize');
  if (pre.channels !== undefined)
    preprocess.channels = c.arr(
      pre.channels,
      '/preprocess/channels',
      (v, p) => {
        const ch = c.obj(v, p, ['clip', 'normalize'], ['normalize']);
        return {
          ...(ch.clip !== undefined ? { clip: clipOf(ch.clip, `${p}/clip`) } : {}),
          normalize: normalizeOf(ch.normalize, `${p}/normalize`),
        };
      },
      1,
    );

  const inf = c.obj(m.inference, '/inference', ['mode', 'patch', 'overlap', 'blend', 'batchSize'], ['mode']);
  const inference: InferenceSpec = {
    mode: c.oneOf(inf.mode, '/inference/mode', ['whole', 'slice', 'sliding-window'] as const),
  };
  if (inf.patch !== undefined)
    inference.patch = c
      .triple(inf.patch, '/inference/patch', 1)
      .map((x, i) => c.num(x, `/inference/patch/${i}`, 1, 4096, true)) as [number, number, number];
  if (inf.overlap !== undefined) inference.overlap = c.num(inf.overlap, '/inference/overlap', 0, 0.9);
  if (inf.blend !== undefined)
    inference.blend = c.oneOf(inf.blend, '/inference/blend', ['gaussian', 'constant'] as const);
  if (inf.batchSize !== undefined) inference.batchSize = c.num(inf.batchSize, '/inference/batchSize', 1, 256, true);
  if (inference.mode === 'sliding-window' && !inference.patch)
    c.fail('/inference/patch', 'is required for sliding-window inference');

  const post = c.obj(
    m.postprocess,
    '/postprocess',
    ['activation', 'threshold', 'largestComponent', 'fillHoles', 'custom'],
    ['activation'],
  );
  const postprocess: Postprocess = {
    activation: c.oneOf(post.activation, '/postprocess/activation', ['argmax', 'sigmoid', 'none'] as const),
  };
  if (post.threshold !== undefined) postprocess.threshold = c.num(post.threshold, '/postprocess/threshold', 0, 1);
  if (post.largestComponent !== undefined)
    postprocess.largestComponent = c.bool(post.largestComponent, '/postprocess/largestComponent');
  if (post.fillHoles !== undefined) postprocess.fillHoles = c.bool(post.fillHoles, '/postprocess/fillHoles');
  if (post.custom !== undefined)
    postprocess.custom = c.oneOf(post.custom, '/postprocess/custom', ['ct-lung-left-right'] as const);

  const segments = c.arr(
    m.segments,
    '/segments',
    (v, p) => {
      const s = c.obj(
        v,
        p,
        ['label', 'name', 'category', 'type', 'anatomicRegion', 'colorCIELab'],
        ['label', 'name', 'category', 'type'],
      );
      return {
        label: c.num(s.label, `${p}/label`, 1, 255, true),
        name: c.str(s.name, `${p}/name`),
        category: c.code(s.category, `${p}/category`),
        type: c.code(s.type, `${p}/type`),
        ...(s.anatomicRegion !== undefined ? { anatomicRegion: c.code(s.anatomicRegion, `${p}/anatomicRegion`) } : {}),
        ...(s.colorCIELab !== undefined ? { colorCIELab: c.triple(s.colorCIELab, `${p}/colorCIELab`, 0) } : {}),
      };
    },
    1,
  );
  const labels = new Set(segments.map((s) => s.label));
  if (labels.size !== segments.length) c.fail('/segments', 'labels must be unique');

  const measurements = c.arr(m.measurements, '/measurements', (v, p): MeasurementSpec => {
    const o = c.obj(v, p, ['kind', 'unit', 'threshold', 'code'], ['kind']);
    const kind = c.oneOf(o.kind, `${p}/kind`, ['volume', 'meanIntensity', 'percentBelow'] as const);
    if (kind === 'meanIntensity') return { kind, unit: c.code(o.unit, `${p}/unit`) };
    if (kind === 'percentBelow')
      return { kind, threshold: c.num(o.threshold, `${p}/threshold`), code: c.code(o.code, `${p}/code`) };
    return { kind };
  });

  const label = (y: unknown, r: string): number => {
    const l = c.num(y, r, 1, 255, true);
    if (!labels.has(l)) c.fail(r, `label ${l} is not a declared segment`);
    return l;
  };
  const derived =
    m.derived === undefined
      ? []
      : c.arr(m.derived, '/derived', (v, p): DerivedSpec => {
          const o = c.obj(v, p, ['name', 'finding', 'union', 'ratios', 'qualitative'], ['name', 'finding']);
          const d: DerivedSpec = { name: c.str(o.name, `${p}/name`), finding: c.code(o.finding, `${p}/finding`) };
          if (o.union !== undefined) d.union = c.arr(o.union, `${p}/union`, label, 1);
          if (o.ratios !== undefined)
            d.ratios = c.arr(
              o.ratios,
              `${p}/ratios`,
              (x, q) => {
                const r = c.obj(x, q, ['numerator', 'denominator', 'code'], ['numerator', 'denominator', 'code']);
                return {
                  numerator: label(r.numerator, `${q}/numerator`),
                  denominator: label(r.denominator, `${q}/denominator`),
                  code: c.code(r.code, `${q}/code`),
                };
              },
              1,
            );
          if (o.qualitative !== undefined) {
            if (!d.union) c.fail(`${p}/qualitative`, 'needs a union to evaluate');
            d.qualitative = c.arr(o.qualitative, `${p}/qualitative`, (x, q) => {
              const r = c.obj(x, q, ['concept', 'percentBelow', 'atLeast'], ['concept', 'percentBelow', 'atLeast']);
              const hu = c.num(r.percentBelow, `${q}/percentBelow`);
              if (!measurements.some((mm) => mm.kind === 'percentBelow' && mm.threshold === hu))
                c.fail(`${q}/percentBelow`, `no percentBelow measurement at ${hu} is declared`);
              return {
                concept: c.code(r.concept, `${q}/concept`),
                percentBelow: hu,
                atLeast: c.num(r.atLeast, `${q}/atLeast`, 0, 100),
              };
            });
          }
          if (!d.union && !d.ratios) c.fail(p, 'needs union, ratios or both');
          return d;
        });

  const input = io(m.input, '/input');
  if ((preprocess.channels?.length ?? 1) !== input.channels) {
    c.fail('/preprocess/channels', `must list one transform per input channel (${input.channels})`);
  }
  const sn = c.obj(m.seriesNumbers, '/seriesNumbers', ['seg', 'sr'], ['seg', 'sr']);
  return {
    id: c.str(m.id, '/id', /^[a-z0-9][a-z0-9-]{0,62}$/),
    version: c.str(m.version, '/version', /^[0-9A-Za-z.+-]{1,32}$/),
    task: c.oneOf(m.task, '/task', ['segmentation', 'classification', 'detection'] as const),
    file: c.str(m.file, '/file', /^[^/\\]+\.onnx$/),
    sha256: c.str(m.sha256, '/sha256', /^[0-9a-f]{64}$/),
    licence: c.str(m.licence, '/licence'),
    description: c.str(m.description, '/description'),
    accepts,
    input,
    output: io(m.output, '/output'),
    preprocess,
    inference,
    postprocess,
    segments,
    measurements,
    derived,
    procedureReported: c.code(m.procedureReported, '/procedureReported'),
    algorithmFamily:
      m.algorithmFamily === undefined
        ? { value: '123110', scheme: 'DCM', meaning: 'Artificial Intelligence' }
        : c.code(m.algorithmFamily, '/algorithmFamily'),
    seriesNumbers: {
      seg: c.num(sn.seg, '/seriesNumbers/seg', 1, 99999, true),
      sr: c.num(sn.sr, '/seriesNumbers/sr', 1, 99999, true),
    },
  };
}
