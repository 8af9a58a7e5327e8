/**
 * Returning a finished stage's large buffers before the next stage allocates its own. A study's
 * arrays are tens to hundreds of MB (the volume, the model input and output, label maps); V8
 * frees unreachable ArrayBuffers only when it collects garbage, which it does lazily, so without
 * this the garbage of one stage adds to the next stage's peak. A full collection of the small JS
 * heap takes a few milliseconds. The worker calls it between stages (docs/performance.md).
 */
import * as fs from 'fs';
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

/**
 * Peak resident memory per stage of a job (Linux): the kernel's high-water mark is reset when the
 * job starts and read when each stage ends. Elsewhere it reports nothing.
 */
export class StagePeaks {
  readonly peaksMb: Record<string, number> = {};
  private readonly on: boolean;

  constructor() {
    this.on = resetPeak();
  }

  mark(stage: string): void {
    if (!this.on) return;
    this.peaksMb[stage] = readPeakMb();
    resetPeak();
  }
}

function resetPeak(): boolean {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

function readPeakMb(): number {
  const m = /VmHWM:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Math.round(Number(m[1]) / 1024) : 0;
}
