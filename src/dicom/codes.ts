/**
 * Coded concepts used by the writers, with their meaning as published. Keeping them in one place
 * makes a wrong code a one-line fix and lets tests compare against the source tables.
 */
export interface Code {
  value: string;
  scheme: string;
  meaning: string;
  schemeVersion?: string;
}

export const code = (value: string, scheme: string, meaning: string): Code => ({ value, scheme, meaning });

/** ainode's own coding scheme for concepts no standard vocabulary has (declared in every SR). */
export const AINODE_SCHEME = '99AINODE';

export const Codes = {
  // SNOMED CT
  anatomicalStructure: code('123037004', 'SCT', 'Anatomical Structure'),
  rightLung: code('3341006', 'SCT', 'Right lung'),
  leftLung: code('44029006', 'SCT', 'Left lung'),
  lung: code('39607008', 'SCT', 'Lung'),
  volume: code('118565006', 'SCT', 'Volume'),
  mean: code('373098007', 'SCT', 'Mean'),
  findingSite: code('363698007', 'SCT', 'Finding Site'),
  area: code('42798000', 'SCT', 'Area'),
  // DICOM (DCM)
  segmentation: code('113076', 'DCM', 'Segmentation'),
  sourceImageForProcessing: code('121322', 'DCM', 'Source image for image processing operation'),
  imagingMeasurementReport: code('126000', 'DCM', 'Imaging Measurement Report'),
  languageOfContent: code('121049', 'DCM', 'Language of Content Item and Descendants'),
  observerType: code('121005', 'DCM', 'Observer Type'),
  device: code('121007', 'DCM', 'Device'),
  deviceObserverUid: code('121012', 'DCM', 'Device Observer UID'),
  deviceObserverName: code('121013', 'DCM', 'Device Observer Name'),
  deviceObserverManufacturer: code('121014', 'DCM', 'Device Observer Manufacturer'),
  deviceObserverModelName: code('121015', 'DCM', 'Device Observer Model Name'),
  procedureReported: code('121058', 'DCM', 'Procedure reported'),
  imageLibrary: code('111028', 'DCM', 'Image Library'),
  imageLibraryGroup: code('126200', 'DCM', 'Image Library Group'),
  imagingMeasurements: code('126010', 'DCM', 'Imaging Measurements'),
  measurementGroup: code('125007', 'DCM', 'Measurement Group'),
  trackingIdentifier: code('112039', 'DCM', 'Tracking Identifier'),
  trackingUid: code('112040', 'DCM', 'Tracking Unique Identifier'),
  finding: code('121071', 'DCM', 'Finding'),
  referencedSegment: code('121191', 'DCM', 'Referenced Segment'),
  sourceSeriesForSegmentation: code('121232', 'DCM', 'Source series for segmentation'),
  derivation: code('121401', 'DCM', 'Derivation'),
  attenuationCoefficient: code('112031', 'DCM', 'Attenuation Coefficient'),
  algorithmFamily: code('111000', 'DCM', 'Algorithm Family'),
  algorithmName: code('111001', 'DCM', 'Algorithm Name'),
  artificialIntelligence: code('123110', 'DCM', 'Artificial Intelligence'),
  morphologicalOperations: code('123104', 'DCM', 'Morphological Operations'),
  processingEquipment: code('109102', 'DCM', 'Processing Equipment'),
  findingPresent: code('52101004', 'SCT', 'Present'),
  findingAbsent: code('2667000', 'SCT', 'Absent'),
  indeterminate: code('82334004', 'SCT', 'Indeterminate'),
  certaintyOfFinding: code('111012', 'DCM', 'Certainty of Finding'),
  sourceOfMeasurement: code('121112', 'DCM', 'Source of Measurement'),
  imageRegion: code('111030', 'DCM', 'Image Region'),
  pixels: code('{pixels}', 'UCUM', 'pixels'),
  squarePixels: code('{px2}', 'UCUM', 'square pixels'),
  present: code('373066001', 'SCT', 'Yes'),
  absent: code('373067005', 'SCT', 'No'),
  algorithmVersion: code('111003', 'DCM', 'Algorithm Version'),
  comment: code('121106', 'DCM', 'Comment'),
  // LOINC
  ctChest: code('24627-2', 'LN', 'CT Chest'),
  // RFC 5646
  englishUS: code('en-US', 'RFC5646', 'English (United States)'),
  // UCUM units
  cubicCentimeter: code('cm3', 'UCUM', 'cubic centimeter'),
  squareMillimeter: code('mm2', 'UCUM', 'square millimeter'),
  hounsfieldUnit: code("[hnsf'U]", 'UCUM', 'Hounsfield unit'),
  percent: code('%', 'UCUM', 'percent'),
  noUnits: code('1', 'UCUM', 'no units'),
  // ainode's own scheme: no standard code exists for the emphysema index.
  laa950: code('LAA950', AINODE_SCHEME, 'Lung volume below -950 HU, percent of lung volume'),
} as const;

/** A Code Sequence item in dcmjs' naturalized form. */
export function codeItem(c: Code): Record<string, string> {
  return {
    CodeValue: c.value,
    CodingSchemeDesignator: c.scheme,
    ...(c.schemeVersion ? { CodingSchemeVersion: c.schemeVersion } : {}),
    CodeMeaning: c.meaning,
  };
}
