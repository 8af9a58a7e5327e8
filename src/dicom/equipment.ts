/**
 * How ainode identifies itself in the objects it writes (General Equipment, Enhanced General
 * Equipment, SR device observer). The software version is the package version.
 */
import * as fs from 'fs';
import * as path from 'path';

function packageVersion(): string {
  try {
    const pkg = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export const AINODE_EQUIPMENT = {
  Manufacturer: 'ainode',
  ManufacturerModelName: 'ainode',
  SoftwareVersions: packageVersion(),
  DeviceSerialNumber: '1',
} as const;

/** DICOM DA and TM of a moment, in local time as DICOM expects. */
export function dicomDateTime(d: Date = new Date()): { date: string; time: string } {
  const p = (n: number, w = 2): string => String(n).padStart(w, '0');
  return {
    date: `${d.getFullYear()}${p(d.getMonth() + 1)}${p(d.getDate())}`,
    time: `${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`,
  };
}

/** A DS value (at most 16 characters), from a finite number. */
export function ds(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`DS value must be finite (got ${n})`);
  for (let digits = 12; digits >= 1; digits--) {
    let s = Number(n.toPrecision(digits)).toString();
    if (s.includes('e')) s = n.toExponential(Math.max(0, digits - 6));
    if (s.length <= 16) return s;
  }
  return n.toExponential(6).slice(0, 16);
}
