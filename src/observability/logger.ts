/**
 * Structured JSON logging (pino). Never pass datasets, QIDO bodies or DICOM JSON to the logger:
 * key-based redaction cannot work on DICOM JSON (keys are tag numbers), so callers log only
 * UIDs, counts, durations and error codes. The `err` serializer keeps name, code and message only.
 */
import pino from 'pino';
import { AinodeError } from '../errors';

export type Logger = pino.Logger;

function errSerializer(e: unknown): Record<string, unknown> {
  if (e instanceof AinodeError) return { name: e.name, code: e.code, retryable: e.retryable, message: e.message };
  if (e instanceof Error) return { name: e.name, message: e.message };
  return { message: String(e) };
}

export function createLogger(opts: { level?: string; name?: string } = {}): Logger {
  return pino({
    name: opts.name ?? 'ainode',
    level: opts.level ?? process.env.AINODE_LOG_LEVEL ?? 'info',
    base: { pid: process.pid },
    serializers: { err: errSerializer },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
