/**
 * Model acceptance: every model package declares in its manifest which series it accepts
 * (`accepts`: modality, body part, description pattern, orientation, slice count). The routing
 * rules choose a series; a model runs on it only if it also accepts it here. Pure functions of
 * the series descriptors, so every refusal is explained and unit-testable.
 *
 * Never accepted: ainode's own outputs (Manufacturer "ainode"), localizers, a missing
 * orientation when the model restricts orientation.
 */
import type { SeriesDescriptor } from './study-facts';
import { AINODE_EQUIPMENT } from '../dicom/equipment';
import type { SeriesAcceptance } from '../contracts/acceptance';
import { orientationOf } from '../contracts/geometry';

export function judgeSeries(s: SeriesDescriptor, a: SeriesAcceptance): { qualifies: boolean; why: string } {
  if (s.manufacturer === AINODE_EQUIPMENT.Manufacturer) return { qualifies: false, why: 'written by ainode' };
  if (!a.modality.includes(s.modality)) return { qualifies: false, why: `modality ${s.modality || 'missing'}` };
  if (s.imageType.includes('LOCALIZER')) return { qualifies: false, why: 'localizer' };
  if (a.slices?.min !== undefined && s.numberOfInstances < a.slices.min)
    return { qualifies: false, why: `${s.numberOfInstances} instances < ${a.slices.min}` };
  if (a.slices?.max !== undefined && s.numberOfInstances > a.slices.max)
    return { qualifies: false, why: `${s.numberOfInstances} instances > ${a.slices.max}` };
  if (a.orientation) {
    const o = orientationOf(s.imageOrientationPatient);
    if (!o || !a.orientation.includes(o))
      return { qualifies: false, why: `orientation ${o ?? 'oblique or missing'} not in ${a.orientation.join('/')}` };
  }
  const texts = [s.studyDescription, s.seriesDescription, s.protocolName];
  if (a.bodyPart) {
    const ok = s.bodyPartExamined
      ? a.bodyPart.includes(s.bodyPartExamined)
      : a.bodyPartPattern !== undefined && texts.some((t) => new RegExp(a.bodyPartPattern!, 'i').test(t));
    if (!ok)
      return {
        qualifies: false,
        why: s.bodyPartExamined ? `body part ${s.bodyPartExamined}` : 'body part missing and no description names it',
      };
  }
  if (
    a.descriptionPattern &&
    ![s.seriesDescription, s.protocolName].some((t) => new RegExp(a.descriptionPattern!, 'i').test(t))
  ) {
    return { qualifies: false, why: 'series description/protocol does not match' };
  }
  return { qualifies: true, why: 'accepted' };
}
