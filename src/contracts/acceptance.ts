/**
 * What a model accepts (a manifest's `accepts`): read by inference/ from the manifest and by
 * rules/ to decide whether a series may go to the model.
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
}
