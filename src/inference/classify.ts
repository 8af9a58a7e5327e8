/**
 * Classification outputs: logits or probabilities per class to probabilities (softmax for one
 * class of several, sigmoid for multi-label), each class decided at its operating point, with an
 * optional indeterminate band, and per-image probabilities combined for a series or study.
 */
import { AinodeError } from '../errors';
import type { ClassSpec, ClassificationSpec } from './manifest';

export type ClassOutcome = 'present' | 'absent' | 'indeterminate';

export interface ClassFinding {
  class: ClassSpec;
  probability: number;
  outcome: ClassOutcome;
}

/** Probabilities from the model's output row (one value per output channel). */
export function probabilities(output: ArrayLike<number>, activation: ClassificationSpec['activation']): Float64Array {
  const p = Float64Array.from(output as ArrayLike<number>);
  if (!p.every(Number.isFinite))
    throw new AinodeError('MODEL_RUN_FAILED', 'the classifier gave a value that is not a finite number', {
      retryable: false,
    });
  if (activation === 'softmax') {
    const max = Math.max(...p);
    let sum = 0;
    for (let i = 0; i < p.length; i++) sum += p[i] = Math.exp(p[i] - max);
    for (let i = 0; i < p.length; i++) p[i] /= sum;
  } else if (activation === 'sigmoid') {
    for (let i = 0; i < p.length; i++) p[i] = 1 / (1 + Math.exp(-p[i]));
  } else if (p.some((v) => v < 0 || v > 1)) {
    throw new AinodeError('MODEL_RUN_FAILED', 'the classifier declares probabilities but gave a value outside 0..1', {
      retryable: false,
      hint: 'declare classification/activation softmax or sigmoid if the model outputs logits',
    });
  }
  return p;
}

/** Each declared class decided at its threshold (indeterminate inside its band, when it has one). */
export function decide(p: ArrayLike<number>, classes: ClassSpec[]): ClassFinding[] {
  return classes.map((c) => {
    const probability = p[c.index];
    if (probability === undefined)
      throw new AinodeError('MODEL_RUN_FAILED', `the classifier has no output for class index ${c.index}`, {
        retryable: false,
      });
    const t = c.threshold ?? 0.5;
    const band = c.indeterminate;
    const outcome: ClassOutcome =
      band && probability >= band[0] && probability < band[1]
        ? 'indeterminate'
        : probability >= t
          ? 'present'
          : 'absent';
    return { class: c, probability, outcome };
  });
}

/** Per-image probabilities (one row per image) combined per class for a series or study. */
export function aggregate(rows: ArrayLike<number>[], how: 'max' | 'mean'): Float64Array {
  if (rows.length === 0) throw new Error('aggregate: no images');
  const out = new Float64Array(rows[0].length);
  for (let k = 0; k < out.length; k++) {
    let acc = how === 'max' ? -Infinity : 0;
    for (const r of rows) acc = how === 'max' ? Math.max(acc, r[k]) : acc + r[k];
    out[k] = how === 'max' ? acc : acc / rows.length;
  }
  return out;
}
