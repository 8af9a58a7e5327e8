/**
 * The CT lung model's results as DICOM: one binary SEG (right lung, left lung) and one TID 1500
 * SR with volume, mean density and %LAA-950 per lung (TID 1411, referencing the SEG segment) and
 * for both lungs together (TID 1501).
 */
import { Codes } from '../dicom/codes';
import { buildSegmentation, SEGMENTATION_STORAGE } from '../dicom/seg/builder';
import { SegmentAlgorithmType, SegmentDescription } from '../dicom/seg/segment';
import { buildMeasurementReport, type Measurement } from '../dicom/sr/measurement-report';
import type { PatientStudyAttributes } from '../dicom/study-attributes';
import { deterministicUid } from '../dicom/uid';
import type { ScalarVolume } from '../volume/volume';
import type { CtLungResult } from '../inference/ct-lung/pipeline';
import type { LungMeasurement } from '../inference/ct-lung/measure';
import type { ModelManifest } from '../inference/model-package';
import { outputUids, type ResultKey } from './output-uids';

export const SEG_SERIES_NUMBER = 9001;
export const SR_SERIES_NUMBER = 9002;

export interface ResultObjects {
  seg: { seriesInstanceUid: string; sopInstanceUid: string; part10: Buffer; frames: number };
  sr: { seriesInstanceUid: string; sopInstanceUid: string; part10: Buffer };
}

function measurements(m: LungMeasurement): Measurement[] {
  return [
    { concept: Codes.volume, value: m.volumeMl, unit: Codes.cubicCentimeter },
    { concept: Codes.attenuationCoefficient, value: m.meanHu, unit: Codes.hounsfieldUnit, derivation: Codes.mean },
    { concept: Codes.laa950, value: m.laa950Percent, unit: Codes.percent },
  ];
}

export function buildCtLungResults(key: ResultKey, manifest: ModelManifest, volume: ScalarVolume, patientStudy: PatientStudyAttributes, result: CtLungResult): ResultObjects {
  const uids = outputUids(key);
  const algorithmName = `ainode ${manifest.id} ${manifest.version}`;
  const tracking = (what: string): string => deterministicUid(uids.segInstance, 'tracking', what);
  const segments = [
    new SegmentDescription({ number: 1, label: 'Right lung', category: Codes.anatomicalStructure, type: Codes.rightLung, algorithmType: SegmentAlgorithmType.AUTOMATIC, algorithmName, trackingId: 'Right lung', trackingUid: tracking('right'), recommendedDisplayCIELab: [53477, 42301, 42149] }),
    new SegmentDescription({ number: 2, label: 'Left lung', category: Codes.anatomicalStructure, type: Codes.leftLung, algorithmType: SegmentAlgorithmType.AUTOMATIC, algorithmName, trackingId: 'Left lung', trackingUid: tracking('left'), recommendedDisplayCIELab: [38785, 16889, 50630] }),
  ];
  const seg = buildSegmentation({
    source: volume,
    patientStudy,
    segments,
    labels: result.lungs.labels,
    seriesInstanceUid: uids.segSeries,
    sopInstanceUid: uids.segInstance,
    seriesNumber: SEG_SERIES_NUMBER,
    seriesDescription: `AI lungs (${manifest.id} ${manifest.version})`,
    contentLabel: 'LUNGS',
    contentDescription: 'Right and left lung, automatic',
  });
  const m = result.measurements;
  const sr = buildMeasurementReport({
    patientStudy,
    seriesInstanceUid: uids.srSeries,
    sopInstanceUid: uids.srInstance,
    seriesNumber: SR_SERIES_NUMBER,
    seriesDescription: `AI lung measurements (${manifest.id} ${manifest.version})`,
    procedureReported: Codes.ctChest,
    observer: { uid: uids.observer, name: algorithmName },
    sourceSeries: { seriesInstanceUid: volume.seriesInstanceUid, instances: volume.slices },
    segmentation: { seriesInstanceUid: uids.segSeries, instance: { sopClassUid: SEGMENTATION_STORAGE, sopInstanceUid: uids.segInstance } },
    segmentGroups: [
      { trackingId: 'Right lung', trackingUid: tracking('right'), finding: Codes.rightLung, segmentNumber: 1, measurements: measurements(m.right) },
      { trackingId: 'Left lung', trackingUid: tracking('left'), finding: Codes.leftLung, segmentNumber: 2, measurements: measurements(m.left) },
    ],
    plainGroups: [{ trackingId: 'Both lungs', trackingUid: tracking('total'), finding: Codes.lung, measurements: measurements(m.total) }],
  });
  return {
    seg: { seriesInstanceUid: uids.segSeries, sopInstanceUid: uids.segInstance, part10: seg.part10, frames: seg.numberOfFrames },
    sr: { seriesInstanceUid: uids.srSeries, sopInstanceUid: uids.srInstance, part10: sr.part10 },
  };
}
