/**
 * Generic post-processing of model outputs into a label map: argmax over channels, sigmoid +
 * threshold, or a label map as is; then optional largest-component and hole filling per label.
 */
import { labelComponents } from '../volume/components';
import type { Postprocess } from './manifest';

export function toLabels(data: Float32Array | Uint8Array, channels: number, voxels: number, spec: Postprocess): Uint8Array {
  const labels = new Uint8Array(voxels);
  if (spec.activation === 'none') {
    for (let v = 0; v < voxels; v++) labels[v] = Math.max(0, Math.min(255, Math.round(data[v])));
    return labels;
  }
  if (spec.activation === 'argmax') {
    for (let v = 0; v < voxels; v++) {
      let best = 0;
      let bestVal = data[v];
      for (let c = 1; c < channels; c++) {
        const x = data[c * voxels + v];
        if (x > bestVal) (bestVal = x), (best = c);
      }
      labels[v] = best;
    }
    return labels;
  }
  // sigmoid: channel c above the threshold -> label c + 1 (the most confident one wins).
  const t = spec.threshold ?? 0.5;
  const logit = Math.log(t / (1 - t));
  for (let v = 0; v < voxels; v++) {
    let best = 0;
    let bestVal = logit;
    for (let c = 0; c < channels; c++) {
      const x = data[c * voxels + v];
      if (x >= bestVal) (bestVal = x), (best = c + 1);
    }
    labels[v] = best;
  }
  return labels;
}

export function keepLargestComponent(labels: Uint8Array, label: number, dims: [number, number, number]): void {
  const mask = new Uint8Array(labels.length);
  for (let v = 0; v < labels.length; v++) mask[v] = labels[v] === label ? 1 : 0;
  const { labels: cc, components } = labelComponents(mask, dims[0], dims[1], dims[2]);
  if (components.length < 2) return;
  const keep = components.reduce((a, b) => (b.size > a.size ? b : a)).label;
  for (let v = 0; v < labels.length; v++) if (mask[v] && cc[v] !== keep) labels[v] = 0;
}

/** Background regions enclosed by `label` (not touching the in-plane border) become `label`. */
export function fillHoles(labels: Uint8Array, label: number, dims: [number, number, number]): void {
  const bg = new Uint8Array(labels.length);
  for (let v = 0; v < labels.length; v++) bg[v] = labels[v] === label ? 0 : 1;
  const { labels: cc, components } = labelComponents(bg, dims[0], dims[1], dims[2]);
  const enclosed = new Set(components.filter((c) => !c.touchesInPlaneBorder).map((c) => c.label));
  if (enclosed.size === 0) return;
  for (let v = 0; v < labels.length; v++) if (enclosed.has(cc[v]) && labels[v] === 0) labels[v] = label;
}
