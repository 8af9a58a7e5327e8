/**
 * The model package manifest (models/<id>/manifest.json): one JSON Schema
 * (src/contracts/schemas/manifest.schema.json), validated strictly at load time. Unknown fields
 * are refused (a typo must not silently change preprocessing), and every problem is reported at
 * once with the JSON path of the bad field.
 *
 * The manifest declares what a model accepts, how its input is prepared, how it is run, how its
 * output is post-processed and how the result becomes SEG segments and SR measurements, so a new
 * package runs without code changes. See docs/models.md for every field.
 */
import { AinodeError } from '../errors';
import type { Code } from '../dicom/codes';
import type { SeriesAcceptance } from '../contracts/acceptance';
import type { FitMode } from '../image/fit';
import type { VoiChoice } from '../image/planar-image';
import { isMapping, pointer, regexProblem, schemaProblems, type Problem, type SchemaPath } from '../contracts/validate';
import manifestSchema from '../contracts/schemas/manifest.schema.json';

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

/** How a 2D image becomes the model input (src/image/). */
export interface ImageInputSpec {
  size: [number, number];
  fit: FitMode;
  pad?: number;
  voi: VoiChoice;
  colour: 'grey' | 'rgb';
  /** A multi-view model: one grey channel per view, each the study's image of this view. */
  views?: { viewPosition: string; laterality: string }[];
}

/** An output class of a classification or detection model. */
export interface ClassSpec {
  index: number;
  name: string;
  finding: Code;
  /** Classification: the operating point. */
  threshold?: number;
  indeterminate?: [number, number];
}

export interface ClassificationSpec {
  activation: 'softmax' | 'sigmoid' | 'none';
  aggregate?: 'max' | 'mean';
}

export interface DetectionSpec {
  format: 'boxes-scores-labels' | 'yolo';
  outputs: { boxes?: string; scores?: string; labels?: string; predictions?: string };
  boxFormat: 'xyxy' | 'cxcywh';
  scoreThreshold: number;
  iou: number;
  maxDetections: number;
}

export type ModelTask = 'segmentation' | 'classification' | 'detection';

export interface ModelManifest {
  id: string;
  version: string;
  task: ModelTask;
  /** What one run sees: an image (one frame), a series or the study. */
  level: 'image' | 'series' | 'study';
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
  /** SEG/SR series numbers of this model's results (SEG: segmentation only; 0 otherwise). */
  seriesNumbers: { seg: number; sr: number };
  image?: ImageInputSpec;
  classes: ClassSpec[];
  classification?: ClassificationSpec;
  detection?: DetectionSpec;
}

type Obj = Record<string, unknown>;

const isObj = isMapping;
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/**
 * What the JSON Schema cannot say: the patterns compile, clip windows are ordered, labels are
 * unique and every reference (a derived union, ratio or qualitative threshold) points at a
 * declared segment or measurement, one transform per input channel. Reads the raw document
 * defensively: the schema may have failed on the same fields.
 */
function semanticProblems(m: unknown): Problem[] {
  const problems: Problem[] = [];
  const fail = (path: SchemaPath, message: string): void => void problems.push({ path, message });
  if (!isObj(m)) return problems;
  const accepts = isObj(m.accepts) ? m.accepts : {};
  for (const k of ['bodyPartPattern', 'descriptionPattern']) {
    const bad = regexProblem(accepts[k]);
    if (bad) fail(['accepts', k], bad);
  }
  const pre = isObj(m.preprocess) ? m.preprocess : {};
  const clip = (v: unknown, path: SchemaPath): void => {
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'number' && typeof v[1] === 'number' && v[0] >= v[1])
      fail(path, 'must be [low, high] with low < high');
  };
  clip(pre.clip, ['preprocess', 'clip']);
  list(pre.channels).forEach((ch, i) => isObj(ch) && clip(ch.clip, ['preprocess', 'channels', i, 'clip']));
  const inputChannels = isObj(m.input) ? m.input.channels : undefined;
  // A 2D image model without a channel list applies its one transform to every channel (R, G, B).
  const oneForAll = !Array.isArray(pre.channels) && isObj(m.image);
  if (
    typeof inputChannels === 'number' &&
    !oneForAll &&
    (Array.isArray(pre.channels) ? pre.channels.length : 1) !== inputChannels
  )
    fail(['preprocess', 'channels'], `must list one transform per input channel (${inputChannels})`);

  const image = isObj(m.image) ? m.image : undefined;
  const views = image && Array.isArray(image.views) ? image.views : undefined;
  if (views) {
    if (typeof inputChannels === 'number' && inputChannels !== views.length)
      fail(['input', 'channels'], `must be ${views.length}: one channel per view (image/views)`);
    if (image!.colour !== 'grey') fail(['image', 'colour'], 'must be grey for a multi-view model (one channel a view)');
    if (m.level !== 'study') fail(['level'], 'must be study for a multi-view model (image/views)');
    if (m.task !== 'classification') fail(['image', 'views'], 'multi-view input is for classification models');
  } else if (image && typeof inputChannels === 'number') {
    const wanted = image.colour === 'rgb' ? 3 : image.colour === 'grey' ? 1 : undefined;
    if (wanted !== undefined && wanted !== inputChannels)
      fail(['input', 'channels'], `must be ${wanted} for ${String(image.colour)} input (image/colour)`);
  }
  const outputChannels = isObj(m.output) ? m.output.channels : undefined;
  const indices = new Set<unknown>();
  list(m.classes).forEach((c, i) => {
    if (!isObj(c)) return;
    if (indices.has(c.index)) fail(['classes', i, 'index'], `index ${String(c.index)} is used by an earlier class`);
    indices.add(c.index);
    if (m.task === 'classification' && typeof c.index === 'number' && typeof outputChannels === 'number')
      if (c.index >= outputChannels)
        fail(['classes', i, 'index'], `index ${c.index} is beyond the output's ${outputChannels} channels`);
    if (m.task === 'classification' && c.threshold === undefined)
      fail(['classes', i, 'threshold'], 'is required for classification (the operating point)');
    const band = c.indeterminate;
    if (Array.isArray(band) && typeof c.threshold === 'number' && !(band[0] <= c.threshold && c.threshold <= band[1]))
      fail(['classes', i, 'indeterminate'], 'must be [low, high] with low <= threshold <= high');
  });
  const det = isObj(m.detection) ? m.detection : undefined;
  const outs = det && isObj(det.outputs) ? det.outputs : undefined;
  if (det && outs) {
    if (det.format === 'yolo' && !outs.predictions)
      fail(['detection', 'outputs', 'predictions'], 'is required for the yolo format');
    if (det.format === 'boxes-scores-labels')
      for (const k of ['boxes', 'scores'])
        if (!outs[k]) fail(['detection', 'outputs', k], 'is required for the boxes-scores-labels format');
  }
  if (m.task === 'detection' && !image && det?.format === 'yolo')
    fail(
      ['detection', 'format'],
      'a volume detector (no image input) writes boxes-scores-labels; yolo is for 2D images',
    );
  if (m.task !== 'segmentation' && (m.segments !== undefined || m.measurements !== undefined))
    fail([m.segments !== undefined ? 'segments' : 'measurements'], `belongs to segmentation, not ${String(m.task)}`);

  const labels = list(m.segments).map((s) => (isObj(s) ? s.label : undefined));
  if (new Set(labels).size !== labels.length) fail(['segments'], 'labels must be unique');
  const label = (v: unknown, path: SchemaPath): void => {
    if (typeof v === 'number' && !labels.includes(v)) fail(path, `label ${v} is not a declared segment`);
  };
  const belowThresholds = list(m.measurements).flatMap((x) =>
    isObj(x) && x.kind === 'percentBelow' ? [x.threshold] : [],
  );
  list(m.derived).forEach((d, i) => {
    if (!isObj(d)) return;
    const p = ['derived', i];
    list(d.union).forEach((l, j) => label(l, [...p, 'union', j]));
    list(d.ratios).forEach((r, j) => {
      if (!isObj(r)) return;
      label(r.numerator, [...p, 'ratios', j, 'numerator']);
      label(r.denominator, [...p, 'ratios', j, 'denominator']);
    });
    if (d.qualitative !== undefined && d.union === undefined) fail([...p, 'qualitative'], 'needs a union to evaluate');
    list(d.qualitative).forEach((q, j) => {
      if (isObj(q) && typeof q.percentBelow === 'number' && !belowThresholds.includes(q.percentBelow))
        fail([...p, 'qualitative', j, 'percentBelow'], `no percentBelow measurement at ${q.percentBelow} is declared`);
    });
    if (d.union === undefined && d.ratios === undefined) fail(p, 'needs union, ratios or both');
  });
  return problems;
}

const AI_FAMILY: Code = { value: '123110', scheme: 'DCM', meaning: 'Artificial Intelligence' };

/**
 * The manifest of `file`, checked by its JSON Schema (src/contracts/schemas/manifest.schema.json)
 * and the semantic checks; every problem is reported at once in one MODEL_PACKAGE_INVALID.
 */
export function parseManifest(raw: unknown, file: string): ModelManifest {
  const problems = [...schemaProblems(manifestSchema, raw), ...semanticProblems(raw)];
  if (problems.length)
    throw new AinodeError(
      'MODEL_PACKAGE_INVALID',
      `${file}: ${problems.map((p) => `${pointer(p.path)} ${p.message}`).join('; ')}`,
      {
        retryable: false,
        hint: 'fix the manifest: docs/models.md explains each field, and an editor checks it against src/contracts/schemas/manifest.schema.json',
      },
    );
  const m = raw as Obj & Partial<ModelManifest> & Pick<ModelManifest, 'accepts' | 'task'>;
  const accepts = m.accepts;
  const segmentation = m.task === 'segmentation';
  return {
    id: m.id!,
    version: m.version!,
    task: m.task,
    level: m.level ?? (segmentation || !m.image ? 'series' : 'image'),
    file: m.file!,
    sha256: m.sha256!,
    licence: m.licence!,
    description: m.description!,
    accepts: { ...accepts, ...(accepts.bodyPart ? { bodyPart: accepts.bodyPart.map((b) => b.toUpperCase()) } : {}) },
    input: m.input!,
    output: m.output!,
    preprocess: m.preprocess!,
    inference: m.inference ?? { mode: 'whole' },
    postprocess: m.postprocess ?? { activation: 'none' },
    segments: m.segments ?? [],
    measurements: m.measurements ?? [],
    derived: m.derived ?? [],
    procedureReported: m.procedureReported!,
    algorithmFamily: m.algorithmFamily ?? AI_FAMILY,
    seriesNumbers: { seg: m.seriesNumbers?.seg ?? 0, sr: m.seriesNumbers!.sr },
    ...(m.image ? { image: m.image } : {}),
    classes: m.classes ?? [],
    ...(m.classification ? { classification: m.classification } : {}),
    ...(m.detection
      ? {
          detection: {
            ...m.detection,
            boxFormat: m.detection.boxFormat ?? (m.detection.format === 'yolo' ? 'cxcywh' : 'xyxy'),
          },
        }
      : {}),
  };
}
