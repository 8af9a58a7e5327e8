/**
 * Returning a finished stage's large buffers before the next stage allocates its own. A study's
 * arrays are tens to hundreds of MB (the volume, the model input and output, label maps); V8
 * frees unreachable ArrayBuffers only when it collects garbage, which it does lazily, so without
 * this the garbage of one stage adds to the next stage's peak. A full collection of the small JS
 * heap takes a few milliseconds. The worker calls it between stages (docs/performance.md).
 */
import * as v8 from 'v8';
import * as vm from 'vm';

let gc: (() => void) | null | undefined;

export function collectGarbage(): void {
  if (gc === undefined) {
    try {
      v8.setFlagsFromString('--expose-gc');
      gc = vm.runInNewContext('gc') as () => void;
    } catch {
      gc = null; // not available: V8 collects on its own schedule
    }
  }
  gc?.();
}
