/**
 * What a model accepts (a manifest's `accepts`): read by inference/ from the manifest, by rules/
 * to decide whether a series may go to the model, and by the worker to choose a 2D model's images.
 */
import type { Orientation } from './geometry';

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
  /** 2D models: the images of the series a model takes, by ViewPosition (e.g. CC, MLO, PA, AP). */
  viewPosition?: string[];
  /** 2D models: by ImageLaterality (or Laterality): L, R, B, U. */
  laterality?: string[];
  /** 2D models: the smallest image (Rows and Columns) a model takes. */
  minimumSize?: { rows: number; columns: number };
}

/**
 * Whether one image of a series is for a 2D model, by its view, laterality and size; the reason
 * when it is not (the worker logs which images it left out and why).
 */
export function imageNotAccepted(
  a: SeriesAcceptance,
  image: { viewPosition?: string; laterality?: string; rows: number; columns: number },
): string | undefined {
  const up = (v: string | undefined): string => (v ?? '').trim().toUpperCase();
  if (a.viewPosition && !a.viewPosition.map(up).includes(up(image.viewPosition)))
    return `view ${image.viewPosition || 'missing'} not in ${a.viewPosition.join('/')}`;
  if (a.laterality && !a.laterality.map(up).includes(up(image.laterality)))
    return `laterality ${image.laterality || 'missing'} not in ${a.laterality.join('/')}`;
  if (a.minimumSize && (image.rows < a.minimumSize.rows || image.columns < a.minimumSize.columns))
    return `${image.rows} x ${image.columns} is smaller than ${a.minimumSize.rows} x ${a.minimumSize.columns}`;
  return undefined;
}
