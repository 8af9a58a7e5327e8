/**
 * The benchmarks measure under the allocator settings a deployed worker runs with (MALLOC_TUNING,
 * src/observability/memory.ts): glibc reads them only when a process starts, so a benchmark started
 * without them starts itself again with them. Its own measurements (the bare model run, raw
 * retrieve and store, SEG encoding against dcmjs) then compare like with like: on a machine where
 * page faults are slow, the bare model alone ran 2350 ms untuned against 250 ms tuned.
 * Returns true when it ran the benchmark in a child; the caller then exits with `process.exitCode`.
 */
import { spawnSync } from 'child_process';
import { mallocTuningEnv, mallocTuningMissing } from '../../src/observability/memory';

export function rerunUnderMallocTuning(): boolean {
  if (!mallocTuningMissing().length) return false;
  const env = { ...process.env, ...mallocTuningEnv() };
  const r = spawnSync(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit', env });
  process.exitCode = r.status ?? 1;
  return true;
}
