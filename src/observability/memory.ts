/**
 * Worker memory. Returning large buffers before the next allocation peak: a study's arrays are
 * tens to hundreds of MB (the volume, the model input and output, label maps); V8 frees
 * unreachable ArrayBuffers only when it collects garbage, which it does lazily. A forced
 * collection costs 15-45 ms in the worker (measured), so the worker forces one only where it
 * lowers the peak: before the model runs (the source released) or after volume assembly, and once
 * a job is reported (docs/performance.md).
 *
 * And glibc: freed blocks of a few MB stay in malloc's arenas unless told otherwise (its mmap
 * threshold rises to the largest block freed, and each thread gets arenas of its own), so a
 * worker that had peaked held 340-365 MB when idle, measured over 60 chest CTs, against 190-205 MB
 * with MALLOC_TUNING in its environment. glibc reads these variables only when a process starts:
 * the deployment files set them, and the worker warns when they are missing.
 *
 * The same settings ask glibc to back its large blocks with transparent huge pages
 * (`glibc.malloc.hugetlb=1`, glibc 2.35 and later; where the kernel's THP mode is `madvise`, the
 * usual default, nothing else asks for them). A study's buffers are tens of MB and each is touched
 * page by page when first written: 4 KiB pages mean one page fault per 4 KiB, and on a virtual
 * machine whose host reclaims freed memory each fault is slow. Measured on such a machine (2 cores,
 * Firecracker): the chest CT model's run 2350 -> 250 ms, its post-processing 300-340 -> 140-215 ms
 * (docs/performance.md). Where THP is off (`never`) or glibc is older, the setting does nothing.
 */
import * as fs from 'fs';
import * as v8 from 'v8';
import * as vm from 'vm';

/** Set in the worker's environment by the deployment files (glibc reads them at process start). */
export const MALLOC_TUNING: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  MALLOC_MMAP_THRESHOLD_: '1048576',
  GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1',
};

/**
 * The MALLOC_TUNING variables missing from (or different in) an environment, on Linux (glibc).
 * GLIBC_TUNABLES is a colon-separated list: it counts as set when it holds the tunable, whatever
 * else a deployment adds to it.
 */
export function mallocTuningMissing(
  env: NodeJS.ProcessEnv = process.env,
  platform: string = process.platform,
): string[] {
  if (platform !== 'linux') return [];
  const holds = (k: string, v: string): boolean =>
    k === 'GLIBC_TUNABLES' ? (env[k] ?? '').split(':').includes(v) : env[k] === v;
  return Object.entries(MALLOC_TUNING)
    .filter(([k, v]) => !holds(k, v))
    .map(([k]) => k);
}

/**
 * The MALLOC_TUNING variables to set in a child's environment, given the environment it would
 * otherwise get: GLIBC_TUNABLES keeps the tunables already there and gains the huge-page one when
 * it lacks it; the other variables are set as they are.
 */
export function mallocTuningEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const have = env.GLIBC_TUNABLES ?? '';
  const tunables = have.split(':').includes(MALLOC_TUNING.GLIBC_TUNABLES)
    ? have
    : [have, MALLOC_TUNING.GLIBC_TUNABLES].filter(Boolean).join(':');
  return { ...MALLOC_TUNING, GLIBC_TUNABLES: tunables };
}

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
