/**
 * onnxruntime-node sessions with the execution providers the config asks for, in order.
 * onnxruntime-node throws (instead of falling back) when the CUDA provider library is missing,
 * so each provider list is tried in turn; a fallback is reported in one warning line, and
 * onnxruntime's own native error print for the failed provider is silenced.
 */
import * as ort from 'onnxruntime-node';
import { AinodeError } from '../errors';
import type { Logger } from '../observability/logger';
import type { RuntimeOptions } from '../config/schema';

// onnxruntime prints provider load failures to stderr itself; the node reports them as one
// structured log line instead.
ort.env.logLevel = 'fatal';

export interface LoadedSession {
  session: ort.InferenceSession;
  provider: string;
  createMs: number;
}

// The CPU arena keeps a model's peak working memory after every run (measured: a worker held
// 2.1 GB between brain MRIs with it, 0.3 GB without, at about the same speed); off by default.
// The memory pattern likewise raises every warm run's peak (see RuntimeOptions.memPattern).
export const DEFAULT_RUNTIME: RuntimeOptions = {
  intraOpThreads: 0,
  interOpThreads: 0,
  cpuMemArena: false,
  memPattern: false,
  cudaDeviceId: 0,
};

/** Session options as a worker uses them, before the execution providers (the benchmarks use the same). */
export function sessionOptions(rt: RuntimeOptions = DEFAULT_RUNTIME): ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: 'all',
    enableCpuMemArena: rt.cpuMemArena,
    enableMemPattern: rt.memPattern,
    logSeverityLevel: 4,
    ...(rt.intraOpThreads ? { intraOpNumThreads: rt.intraOpThreads } : {}),
    ...(rt.interOpThreads ? { interOpNumThreads: rt.interOpThreads } : {}),
  };
}

function providerConfig(name: string, rt: RuntimeOptions): ort.InferenceSession.ExecutionProviderConfig {
  return name === 'cuda' ? { name: 'cuda', deviceId: rt.cudaDeviceId } : name;
}

export async function createSession(
  modelPath: string,
  providers: string[],
  log: Logger,
  rt: RuntimeOptions = DEFAULT_RUNTIME,
): Promise<LoadedSession> {
  const failures: string[] = [];
  for (let i = 0; i < providers.length; i++) {
    const attempt = providers.slice(i);
    const t0 = performance.now();
    try {
      const session = await ort.InferenceSession.create(modelPath, {
        ...sessionOptions(rt),
        executionProviders: attempt.map((p) => providerConfig(p, rt)),
      });
      const createMs = performance.now() - t0;
      if (failures.length)
        log.warn(
          { provider: attempt[0], unavailable: failures },
          `execution provider ${providers.slice(0, i).join(', ')} unavailable; running on ${attempt[0]}`,
        );
      return { session, provider: attempt[0], createMs };
    } catch (e) {
      failures.push(`${attempt[0]}: ${(e as Error).message.split('\n')[0].slice(0, 300)}`);
    }
  }
  throw new AinodeError('MODEL_RUN_FAILED', `no execution provider could load ${modelPath}: ${failures.join('; ')}`, {
    retryable: false,
  });
}

export { ort };
