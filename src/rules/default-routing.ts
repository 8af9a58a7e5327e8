/**
 * Default routing shipped with ainode: chest CT -> ct-lung. A pure function of the series
 * descriptors, so it is unit-testable and explains each decision.
 *
 * A series qualifies when it is CT, axial (slice normal within ~25 degrees of the body axis),
 * not a localizer, has at least MIN_SLICES instances, and something says "chest": BodyPartExamined
 * (CHEST, THORAX, LUNG, ...) or a chest word in the study/series description or protocol name.
 * ainode's own outputs (Manufacturer "ainode", SEG/SR) never qualify. Among qualifying series the
 * one with most instances wins (ties: the first by UID, so the choice is stable).
 */
import type { SeriesDescriptor } from './series-descriptor';
import { AINODE_EQUIPMENT } from '../dicom/equipment';

export const MIN_SLICES = 16;
const CHEST_BODY_PARTS = new Set(['CHEST', 'THORAX', 'LUNG', 'CHEST_ABDOMEN', 'CHESTABDOMEN', 'CHEST_TO_PELVIS', 'CHESTABDPELVIS']);
const CHEST_WORDS = /chest|thorax|thorac|lung|pulm|\bthx\b|\btho\b/i;

export interface RouteDecision {
  modelId: string;
  seriesInstanceUid: string | undefined;
  /** Per series, why it was or was not chosen. */
  reasons: { seriesInstanceUid: string; qualifies: boolean; why: string }[];
}

function isAxial(iop: number[] | undefined): boolean {
  if (!iop) return false;
  const nz = iop[0] * iop[4] - iop[1] * iop[3];
  return Math.abs(nz) > 0.9;
}

export function judgeChestCt(s: SeriesDescriptor): { qualifies: boolean; why: string } {
  if (s.manufacturer === AINODE_EQUIPMENT.Manufacturer) return { qualifies: false, why: 'written by ainode' };
  if (s.modality !== 'CT') return { qualifies: false, why: `modality ${s.modality || 'missing'}` };
  if (s.imageType.includes('LOCALIZER')) return { qualifies: false, why: 'localizer' };
  if (s.numberOfInstances < MIN_SLICES) return { qualifies: false, why: `${s.numberOfInstances} instances < ${MIN_SLICES}` };
  if (!isAxial(s.imageOrientationPatient)) return { qualifies: false, why: 'not axial (or orientation missing)' };
  const chest = CHEST_BODY_PARTS.has(s.bodyPartExamined) || [s.studyDescription, s.seriesDescription, s.protocolName].some((t) => CHEST_WORDS.test(t));
  if (!chest) return { qualifies: false, why: 'nothing says chest (BodyPartExamined, descriptions, protocol)' };
  return { qualifies: true, why: 'axial chest CT' };
}

export function routeChestCt(series: SeriesDescriptor[]): RouteDecision {
  const reasons = series.map((s) => ({ seriesInstanceUid: s.seriesInstanceUid, ...judgeChestCt(s) }));
  const candidates = series
    .filter((_, i) => reasons[i].qualifies)
    .sort((a, b) => b.numberOfInstances - a.numberOfInstances || (a.seriesInstanceUid < b.seriesInstanceUid ? -1 : 1));
  return { modelId: 'ct-lung', seriesInstanceUid: candidates[0]?.seriesInstanceUid, reasons };
}

/** Whether routing needs instance-level detail (ImageType, orientation) for a series of this modality. */
export const needsInstanceDetail = (modality: string): boolean => modality === 'CT';
