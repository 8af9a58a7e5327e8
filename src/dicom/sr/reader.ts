/**
 * Tolerant reader of TID 1500 measurement reports written by anyone: the measurement groups with
 * their tracking identifier, finding, referenced segment and numeric measurements. What does not
 * conform is not guessed at: it is listed in `problems` (e.g. a NUM without MeasuredValueSequence,
 * as dcmjs writes it), so a caller can refuse the report with a clear message.
 */
import { AinodeError } from '../../errors';
import { readPart10 } from '../part10';

type Item = Record<string, unknown>;
const items = (v: unknown): Item[] =>
  Array.isArray(v) ? (v as Item[]) : v && typeof v === 'object' ? [v as Item] : [];
const concept = (it: Item): { value?: string; scheme?: string; meaning?: string } => {
  const c = items(it.ConceptNameCodeSequence)[0] ?? {};
  return {
    value: c.CodeValue as string | undefined,
    scheme: c.CodingSchemeDesignator as string | undefined,
    meaning: c.CodeMeaning as string | undefined,
  };
};

/**
 * A TEXT item's value. UT is one value whose backslashes are text (PS3.5 6.2), but dcmjs splits
 * it at them like a multi-valued string: the parts are joined back.
 */
function textValue(v: unknown): string {
  return Array.isArray(v) ? v.join('\\') : String(v ?? '');
}

export interface ReadMeasurement {
  concept: string;
  value: number | undefined;
  unit: string | undefined;
}

export interface ReadMeasurementGroup {
  trackingId?: string;
  trackingUid?: string;
  finding?: string;
  referencedSegment?: { sopInstanceUid: string; segmentNumber?: number };
  measurements: ReadMeasurement[];
  evaluations: { concept: string; value: string }[];
  /** A planar image region (SCOORD), in the group or a measurement inferred from it. */
  imageRegion?: { graphicType: string; points: number[]; sopInstanceUid?: string; frameNumber?: number };
  /** A region in patient coordinates (SCOORD3D) of a frame of reference. */
  volumeRegion?: { graphicType: string; points: number[]; frameOfReferenceUid: string };
  /** TEXT (121106, DCM, "Comment"): a human-readable label. */
  comment?: string;
}

export interface ReadMeasurementReport {
  sopInstanceUid: string;
  templateId?: string;
  title?: string;
  groups: ReadMeasurementGroup[];
  problems: string[];
}

export const SR_STORAGE_CLASSES = new Set([
  '1.2.840.10008.5.1.4.1.1.88.11',
  '1.2.840.10008.5.1.4.1.1.88.22',
  '1.2.840.10008.5.1.4.1.1.88.33',
  '1.2.840.10008.5.1.4.1.1.88.34',
]);

export function readMeasurementReport(part10: Buffer): ReadMeasurementReport {
  const { dataset: ds } = readPart10(part10);
  if (!SR_STORAGE_CLASSES.has(String(ds.SOPClassUID)))
    throw new AinodeError('SR_INVALID', `not a structured report (SOP Class ${String(ds.SOPClassUID ?? 'missing')})`, {
      retryable: false,
    });
  if (ds.ValueType !== 'CONTAINER')
    throw new AinodeError('SR_INVALID', 'the document root is not a CONTAINER', { retryable: false });
  const problems: string[] = [];
  const groups: ReadMeasurementGroup[] = [];
  const readGroup = (g: Item, path: string): ReadMeasurementGroup => {
    const out: ReadMeasurementGroup = { measurements: [], evaluations: [] };
    const region = (sc: Item): void => {
      const ref = items(items(sc.ContentSequence).find((x) => x.ValueType === 'IMAGE')?.ReferencedSOPSequence)[0];
      const gd = sc.GraphicData;
      out.imageRegion = {
        graphicType: String(sc.GraphicType ?? ''),
        points: (Array.isArray(gd) ? gd : gd === undefined ? [] : [gd]).map(Number),
        ...(ref ? { sopInstanceUid: String(ref.ReferencedSOPInstanceUID) } : {}),
        ...(ref?.ReferencedFrameNumber !== undefined ? { frameNumber: Number(ref.ReferencedFrameNumber) } : {}),
      };
    };
    items(g.ContentSequence).forEach((c, i) => {
      const name = concept(c).meaning ?? '';
      const p = `${path}/${i + 1}`;
      switch (c.ValueType) {
        case 'TEXT':
          if (concept(c).value === '112039') out.trackingId = textValue(c.TextValue);
          else if (concept(c).value === '121106') out.comment = textValue(c.TextValue);
          break;
        case 'SCOORD':
          region(c);
          break;
        case 'SCOORD3D': {
          const gd = c.GraphicData;
          out.volumeRegion = {
            graphicType: String(c.GraphicType ?? ''),
            points: (Array.isArray(gd) ? gd : gd === undefined ? [] : [gd]).map(Number),
            frameOfReferenceUid: String(c.ReferencedFrameOfReferenceUID ?? ''),
          };
          break;
        }
        case 'UIDREF':
          if (concept(c).value === '112040') out.trackingUid = String(c.UID ?? '');
          break;
        case 'CODE': {
          const v = items(c.ConceptCodeSequence)[0];
          if (!v) problems.push(`${p} CODE "${name}" has no ConceptCodeSequence`);
          else if (concept(c).value === '121071') out.finding = String(v.CodeMeaning);
          else out.evaluations.push({ concept: name, value: String(v.CodeMeaning) });
          break;
        }
        case 'IMAGE': {
          const r = items(c.ReferencedSOPSequence)[0];
          if (r && concept(c).value === '121191')
            out.referencedSegment = {
              sopInstanceUid: String(r.ReferencedSOPInstanceUID),
              ...(r.ReferencedSegmentNumber !== undefined ? { segmentNumber: Number(r.ReferencedSegmentNumber) } : {}),
            };
          break;
        }
        case 'NUM': {
          const mv = items(c.MeasuredValueSequence)[0];
          if (!mv) {
            problems.push(`${p} NUM "${name}" has no MeasuredValueSequence (not conformant: PS3.3 C.18.1)`);
            out.measurements.push({ concept: name, value: undefined, unit: undefined });
          } else {
            const value = Number(mv.NumericValue);
            if (!Number.isFinite(value)) problems.push(`${p} NUM "${name}" has a non-numeric value`);
            out.measurements.push({
              concept: name,
              value: Number.isFinite(value) ? value : undefined,
              unit: items(mv.MeasurementUnitsCodeSequence)[0]?.CodeValue as string | undefined,
            });
          }
          const sc = items(c.ContentSequence).find((x) => x.ValueType === 'SCOORD');
          if (sc) region(sc);
          break;
        }
      }
    });
    return out;
  };
  const walk = (list: Item[], path: string): void =>
    list.forEach((it, i) => {
      const p = `${path}/${i + 1}`;
      if (it.ValueType === 'CONTAINER' && concept(it).value === '125007') groups.push(readGroup(it, p));
      else walk(items(it.ContentSequence), p);
    });
  walk(items(ds.ContentSequence), '');
  const tmpl = items(ds.ContentTemplateSequence)[0];
  if (!tmpl) problems.push('no ContentTemplateSequence on the root (TID 1500 expected)');
  return {
    sopInstanceUid: String(ds.SOPInstanceUID),
    templateId: tmpl?.TemplateIdentifier as string | undefined,
    title: concept(ds as Item).meaning,
    groups,
    problems,
  };
}
