/**
 * The physical size of a 2D image's pixels, and how far it can be trusted (PS3.3 10.7.1.3 and
 * the projection radiography modules, C.8.11.4 and C.16.3). Pixel Spacing (0028,0030) is the
 * spacing in the patient (or a calibrated plane); Imager Pixel Spacing (0018,1164) is at the
 * detector's front plane, where a projection image is magnified; dividing it by the Estimated
 * Radiographic Magnification Factor (0018,1114) estimates the spacing at the isocentre. The first
 * value is the spacing between rows (vertical), the second between columns (horizontal).
 *
 * A missing or invalid spacing (absent, one value, zero, negative, not a number: RG1 of the NEMA
 * WG-04 set carries 0\0) gives no spacing at all, with the reason: measurements are then in
 * pixels, said so, and never a millimetre figure that could be wrong.
 */
import type { NaturalDataset } from '../dicom/part10';

/** What a millimetre figure measured with this spacing means. */
export type SpacingBasis =
  /** Pixel Spacing of a cross-sectional or calibrated image: in the patient. */
  | 'patient'
  /** Pixel Spacing with a Pixel Spacing Calibration Type (GEOMETRY or FIDUCIAL): calibrated to a plane in the patient. */
  | 'calibrated'
  /** Imager Pixel Spacing divided by the Estimated Radiographic Magnification Factor: estimated at the isocentre. */
  | 'magnification-corrected'
  /** Imager Pixel Spacing (or a Pixel Spacing equal to it): at the detector, larger than in the patient. */
  | 'detector'
  /** Pixel Spacing of a projection image without calibration information: its plane is not stated. */
  | 'unstated-plane';

export interface PixelSpacing {
  /** Spacing between adjacent rows (vertical), mm. */
  rowMm: number;
  /** Spacing between adjacent columns (horizontal), mm. */
  columnMm: number;
  basis: SpacingBasis;
  /** Which attribute(s) it came from, for the report. */
  source: string;
}

export type SpacingResult = { spacing: PixelSpacing; note?: string } | { spacing: undefined; note: string };

/** The SOP classes of projection radiography: their Pixel Spacing is not in the patient unless calibrated. */
const PROJECTION_CLASSES = new Set([
  '1.2.840.10008.5.1.4.1.1.1', // CR
  '1.2.840.10008.5.1.4.1.1.1.1', // DX for presentation
  '1.2.840.10008.5.1.4.1.1.1.1.1', // DX for processing
  '1.2.840.10008.5.1.4.1.1.1.2', // MG for presentation
  '1.2.840.10008.5.1.4.1.1.1.2.1', // MG for processing
  '1.2.840.10008.5.1.4.1.1.1.3', // intra-oral for presentation
  '1.2.840.10008.5.1.4.1.1.1.3.1', // intra-oral for processing
  '1.2.840.10008.5.1.4.1.1.12.1', // XA
  '1.2.840.10008.5.1.4.1.1.12.2', // RF
  '1.2.840.10008.5.1.4.1.1.12.1.1', // enhanced XA
  '1.2.840.10008.5.1.4.1.1.12.2.1', // enhanced XRF
]);
const PROJECTION_MODALITIES = new Set(['CR', 'DX', 'MG', 'IO', 'PX', 'XA', 'RF', 'RG']);

function pair(raw: unknown): { values?: [number, number]; problem?: string } {
  if (raw === undefined || raw === null || raw === '') return {};
  const list = (Array.isArray(raw) ? raw : String(raw).split('\\')).map((v) => (v === null ? NaN : Number(v)));
  if (list.length !== 2) return { problem: `holds ${list.length} value(s), not 2` };
  if (!list.every((v) => Number.isFinite(v) && v > 0))
    return {
      problem: `is ${list.map((v) => (Number.isFinite(v) ? String(v) : '?')).join('\\')}, not two positive numbers`,
    };
  return { values: [list[0], list[1]] };
}

function single(raw: unknown): number | undefined {
  const v = Number(Array.isArray(raw) ? raw[0] : raw);
  return raw !== undefined && raw !== null && raw !== '' && Number.isFinite(v) && v > 0 ? v : undefined;
}

/** The pixel spacing of a 2D image (or one frame of it) and what it means. */
export function pixelSpacingOf(ds: NaturalDataset): SpacingResult {
  const projection =
    PROJECTION_CLASSES.has(String(ds.SOPClassUID ?? '')) || PROJECTION_MODALITIES.has(String(ds.Modality ?? ''));
  const ps = pair(ds.PixelSpacing);
  const ips = pair(ds.ImagerPixelSpacing);
  const notes: string[] = [];
  if (ps.problem) notes.push(`PixelSpacing ${ps.problem}`);
  if (ips.problem) notes.push(`ImagerPixelSpacing ${ips.problem}`);
  const note = notes.length ? `${notes.join('; ')}: ignored` : undefined;
  if (ps.values) {
    const [rowMm, columnMm] = ps.values;
    const calibration = String(ds.PixelSpacingCalibrationType ?? '').trim();
    let basis: SpacingBasis = 'patient';
    if (projection) {
      if (calibration === 'GEOMETRY' || calibration === 'FIDUCIAL') basis = 'calibrated';
      else if (ips.values && ips.values[0] === rowMm && ips.values[1] === columnMm) basis = 'detector';
      else basis = 'unstated-plane';
    }
    const source = calibration ? `PixelSpacing (${calibration})` : 'PixelSpacing';
    return { spacing: { rowMm, columnMm, basis, source }, ...(note ? { note } : {}) };
  }
  if (ips.values) {
    const ermf = single(ds.EstimatedRadiographicMagnificationFactor);
    const [r, c] = ips.values;
    const spacing: PixelSpacing = ermf
      ? {
          rowMm: r / ermf,
          columnMm: c / ermf,
          basis: 'magnification-corrected',
          source: 'ImagerPixelSpacing / EstimatedRadiographicMagnificationFactor',
        }
      : { rowMm: r, columnMm: c, basis: 'detector', source: 'ImagerPixelSpacing' };
    return { spacing, ...(note ? { note } : {}) };
  }
  return { spacing: undefined, note: note ?? 'no PixelSpacing or ImagerPixelSpacing' };
}
