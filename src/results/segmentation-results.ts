/**
 * A segmentation model's results as DICOM, from its manifest: one binary SEG with the manifest's
 * segments (numbered 1..n in manifest order), and one TID 1500 SR per output profile:
 *  - standard: a TID 1411 volumetric group per segment (referencing its SEG segment) and a
 *    TID 1501 group per derived entry (unions, ratios), as IHE AI Results describes;
 *  - viewer: a planar group per segment with the outline of the structure on its key slice
 *    (area inferred from the outline), the whole-structure measurements and a label, tracked
 *    the way OHIF's measurement panel loads (docs/dicom-objects.md, "Output profiles").
 */
import { Codes, type Code } from '../dicom/codes';
import { buildSegmentation, SEGMENTATION_STORAGE } from '../dicom/seg/builder';
import { SegmentAlgorithmType, SegmentDescription } from '../dicom/seg/segment';
import { buildMeasurementReport, type Measurement, type PlanarRoiGroup } from '../dicom/sr/measurement-report';
import { planarRoi } from './planar-roi';
import { DEFAULT_SR_PROFILES, type SrProfile } from '../contracts/sr-profile';
import type { PatientStudyAttributes } from '../dicom/study-attributes';
import { deterministicUid } from '../contracts/uid';
import type { ScalarVolume } from '../contracts/volume';
import type { ModelManifest } from '../inference/manifest';
import type { Measurements, RegionStats } from '../inference/measure';
import { resultIdentity, type ResultKey } from '../contracts/result-identity';

/** OHIF (3.x) loads planar measurements into its panel only with its own tracking identifiers. */
export const VIEWER_TRACKING_ID = 'Cornerstone3DTools@^0.1.0:PlanarFreehandROI';

export interface ReportObject {
  profile: SrProfile;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  part10: Buffer;
}

export interface ResultObjects {
  seg: { seriesInstanceUid: string; sopInstanceUid: string; part10: Buffer; frames: number };
  /** One SR per requested profile, in the order requested. */
  reports: ReportObject[];
  timingsMs: { segEncode: number; srEncode: number };
}

function measurementItems(manifest: ModelManifest, s: RegionStats): Measurement[] {
  return manifest.measurements.map((m): Measurement => {
    if (m.kind === 'volume') return { concept: Codes.volume, value: s.volumeMl, unit: Codes.cubicCentimeter };
    if (m.kind === 'meanIntensity')
      return { concept: Codes.attenuationCoefficient, value: s.meanIntensity, unit: m.unit, derivation: Codes.mean };
    return { concept: m.code, value: s.percentBelow.get(m.threshold)!, unit: Codes.percent };
  });
}

export function buildSegmentationResults(
  key: ResultKey,
  manifest: ModelManifest,
  volume: ScalarVolume,
  patientStudy: PatientStudyAttributes,
  labels: Uint8Array,
  measurements: Measurements,
  profiles: readonly SrProfile[] = DEFAULT_SR_PROFILES,
): ResultObjects {
  const identity = resultIdentity(key);
  const uids = identity.uids;
  const algorithmName = `ainode ${manifest.id} ${manifest.version}`;
  const tracking = (what: string): string => deterministicUid(uids.segInstance, 'tracking', what);
  const present = manifest.segments.filter((s) => measurements.segments.get(s.label)!.voxelCount > 0);
  // Segments the model did not find are left out of the SEG (a SEG segment may not be empty), so
  // SEG segment numbers are 1..n over the segments present, in manifest order; the SR reports the
  // others as absent by omission. One lookup table maps manifest labels to SEG segment numbers (the SEG builder reads the
  // model's label map through it).
  const segNumber = new Uint8Array(256);
  present.forEach((s, i) => (segNumber[s.label] = i + 1));
  const segments = present.map(
    (s, i) =>
      new SegmentDescription({
        number: i + 1,
        label: s.name,
        category: s.category,
        type: s.type,
        anatomicRegion: s.anatomicRegion,
        algorithmType: SegmentAlgorithmType.AUTOMATIC,
        algorithmName,
        algorithmFamily: manifest.algorithmFamily,
        algorithmVersion: manifest.version,
        trackingId: s.name,
        trackingUid: tracking(`segment-${s.label}`),
        recommendedDisplayCIELab: s.colorCIELab,
      }),
  );
  const t0 = performance.now();
  const seg = buildSegmentation({
    source: volume,
    patientStudy,
    segments,
    labels,
    labelToSegment: segNumber,
    seriesInstanceUid: uids.segSeries,
    sopInstanceUid: uids.segInstance,
    seriesNumber: identity.seriesNumber('seg', manifest.seriesNumbers),
    seriesDescription: identity.seriesDescription('seg', manifest),
    contentLabel: manifest.id
      .toUpperCase()
      .replace(/[^A-Z0-9_]/g, '_')
      .slice(0, 16),
    contentDescription: manifest.description.slice(0, 64),
    contributingEquipment: {
      manufacturer: 'ainode',
      modelName: `${manifest.id}`,
      softwareVersions: manifest.version,
      deviceUid: uids.observer,
    },
  });
  const segEncode = performance.now() - t0;
  const t1 = performance.now();
  const ratioItems = (codes: { code: Code }[], values: number[]): Measurement[] =>
    codes.map((r, i) => ({ concept: r.code, value: values[i], unit: Codes.noUnits }));
  const common = {
    patientStudy,
    procedureReported: manifest.procedureReported,
    observer: { uid: uids.observer, name: algorithmName },
    algorithm: { name: algorithmName, version: manifest.version, family: manifest.algorithmFamily },
    sourceSeries: { seriesInstanceUid: volume.seriesInstanceUid, instances: volume.slices },
  };
  const standard = (): ReportObject => {
    const sr = buildMeasurementReport({
      ...common,
      seriesInstanceUid: uids.srSeries,
      sopInstanceUid: uids.srInstance,
      seriesNumber: identity.seriesNumber('sr', manifest.seriesNumbers),
      seriesDescription: identity.seriesDescription('sr', manifest),
      segmentation: {
        seriesInstanceUid: uids.segSeries,
        instance: { sopClassUid: SEGMENTATION_STORAGE, sopInstanceUid: uids.segInstance },
      },
      segmentGroups: present.map((s, i) => ({
        trackingId: s.name,
        trackingUid: tracking(`segment-${s.label}`),
        finding: s.type,
        findingSite: s.anatomicRegion,
        segmentNumber: i + 1,
        measurements: measurementItems(manifest, measurements.segments.get(s.label)!),
      })),
      plainGroups: manifest.derived
        .map((d) => ({ d, m: measurements.derived.get(d.name)! }))
        .filter(({ d, m }) => (d.union ? m.union!.voxelCount > 0 : true) && m.ratios.every(Number.isFinite))
        .map(({ d, m }) => ({
          trackingId: d.name,
          trackingUid: tracking(`derived-${d.name}`),
          finding: d.finding,
          measurements: [
            ...(m.union ? measurementItems(manifest, m.union) : []),
            ...ratioItems(d.ratios ?? [], m.ratios),
          ],
          evaluations: (d.qualitative ?? []).map((q, i) => ({
            concept: q.concept,
            value: m.qualitative[i] ? Codes.present : Codes.absent,
          })),
        })),
    });
    return {
      profile: 'standard',
      seriesInstanceUid: uids.srSeries,
      sopInstanceUid: uids.srInstance,
      part10: sr.part10,
    };
  };
  const viewer = (): ReportObject => {
    const planarGroups = present.map((s): PlanarRoiGroup => {
      const roi = planarRoi(volume.geometry, labels, s.label)!;
      const source = volume.slices[roi.slice];
      const stats = measurements.segments.get(s.label)!;
      return {
        trackingId: VIEWER_TRACKING_ID,
        trackingUid: tracking(`viewer-segment-${s.label}`),
        finding: s.type,
        findingSite: s.anatomicRegion,
        outline: roi.points,
        image: {
          sopClassUid: source.sopClassUid,
          sopInstanceUid: source.sopInstanceUid,
          ...(source.frameNumber !== undefined ? { frameNumber: source.frameNumber } : {}),
        },
        areaMm2: roi.areaMm2,
        measurements: measurementItems(manifest, stats),
        label: `${s.name}: ${stats.volumeMl.toFixed(1)} mL`,
      };
    });
    const sr = buildMeasurementReport({
      ...common,
      seriesInstanceUid: uids.viewerSrSeries,
      sopInstanceUid: uids.viewerSrInstance,
      seriesNumber: identity.seriesNumber('viewer-sr', manifest.seriesNumbers),
      seriesDescription: identity.seriesDescription('viewer-sr', manifest),
      segmentGroups: [],
      plainGroups: [],
      planarGroups,
    });
    return {
      profile: 'viewer',
      seriesInstanceUid: uids.viewerSrSeries,
      sopInstanceUid: uids.viewerSrInstance,
      part10: sr.part10,
    };
  };
  const reports = profiles.map((p) => (p === 'viewer' ? viewer() : standard()));
  return {
    seg: {
      seriesInstanceUid: uids.segSeries,
      sopInstanceUid: uids.segInstance,
      part10: seg.part10,
      frames: seg.numberOfFrames,
    },
    reports,
    timingsMs: { segEncode: Math.round(segEncode), srEncode: Math.round(performance.now() - t1) },
  };
}
