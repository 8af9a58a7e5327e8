/**
 * onnxruntime-node sessions with the execution providers the config asks for, in order.
 * onnxruntime-node throws (instead of falling back) when the CUDA provider library is missing,
 * so each provider list is tried in turn and the one that loaded is reported.
 */
import * as ort from 'onnxruntime-node';
import { AinodeError } from '../errors';
import type { Logger } from '../observability/logger';

export interface LoadedSession {
  session: ort.InferenceSession;
  provider: string;
}

export async function createSession(modelPath: string, providers: string[], log: Logger): Promise<LoadedSession> {
  const failures: string[] = [];
  for (let i = 0; i < providers.length; i++) {
    const attempt = providers.slice(i);
    try {
      const session = await ort.InferenceSession.create(modelPath, { executionProviders: attempt, graphOptimizationLevel: 'all' });
      if (failures.length) log.warn({ provider: attempt[0], fallbackFrom: providers.slice(0, i) }, 'execution provider fallback');
      return { session, provider: attempt[0] };
    } catch (e) {
      failures.push(`${attempt[0]}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw new AinodeError('MODEL_RUN_FAILED', `no execution provider could load ${modelPath}: ${failures.join('; ')}`, { retryable: false });
}

export { ort };
