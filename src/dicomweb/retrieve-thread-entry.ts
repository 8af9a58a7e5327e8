/**
 * The retrieval thread of RetrieveThread (see retrieve-thread.ts): runs WADO-RS retrievals with a
 * DicomwebClient of its own and posts each instance's bytes to the caller as it arrives.
 */
import { parentPort, workerData } from 'worker_threads';
import { isAinodeError } from '../errors';
import { collectGarbage } from '../observability/memory';
import type { DicomwebConfig } from '../config/schema';
import { DicomwebClient } from './client';
import type { ThreadMessage, ThreadRequest } from './retrieve-thread';

const port = parentPort!;
const client = new DicomwebClient((workerData as { cfg: DicomwebConfig }).cfg);
const running = new Map<number, AbortController>();

/** The part as a standalone ArrayBuffer, so that it can be transferred. */
function own(part: Buffer): Uint8Array {
  return part.byteOffset === 0 && part.byteLength === part.buffer.byteLength
    ? new Uint8Array(part.buffer, 0, part.byteLength)
    : new Uint8Array(part);
}

port.on('message', (m: ThreadRequest) => {
  if ('cancel' in m) {
    running.get(m.id)?.abort();
    running.delete(m.id);
    return;
  }
  const abort = new AbortController();
  running.set(m.id, abort);
  const post = (msg: ThreadMessage, transfer: ArrayBuffer[] = []): void => {
    if (running.has(m.id)) port.postMessage(msg, transfer);
  };
  client
    .retrieveSeriesStreaming(
      m.studyUid,
      m.seriesUid,
      (part) => {
        const bytes = own(part);
        post({ id: m.id, part: bytes }, [bytes.buffer as ArrayBuffer]);
      },
      abort.signal,
    )
    .then(
      (count) => post({ id: m.id, done: count }),
      (e: unknown) =>
        post({
          id: m.id,
          error: isAinodeError(e)
            ? { code: e.code, message: e.message, retryable: e.retryable, hint: e.hint }
            : { message: (e as Error).message },
        }),
    )
    .finally(() => {
      running.delete(m.id);
      // The response's chunks are garbage now (a series' worth: tens of MB, outside this thread's
      // small heap, so V8 would not hurry). Collected here, off the caller's thread.
      if (running.size === 0) collectGarbage();
    });
});
