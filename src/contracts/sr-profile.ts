/**
 * SR output profiles: the shape of the measurement report written for a destination, chosen per
 * routing rule (`srProfiles`). `standard` is the volumetric TID 1500 report referencing the SEG
 * (IHE AI Results); `viewer` is a planar report that OHIF's measurement panel loads.
 */
export const SR_PROFILES = ['standard', 'viewer'] as const;
export type SrProfile = (typeof SR_PROFILES)[number];
export const DEFAULT_SR_PROFILES: readonly SrProfile[] = ['standard'];

export function isSrProfile(v: unknown): v is SrProfile {
  return typeof v === 'string' && (SR_PROFILES as readonly string[]).includes(v);
}

/** True for the default profile list (left out of job payloads). */
export function isDefaultProfiles(p: readonly SrProfile[] | undefined): boolean {
  return !p || (p.length === DEFAULT_SR_PROFILES.length && p.every((x, i) => x === DEFAULT_SR_PROFILES[i]));
}
