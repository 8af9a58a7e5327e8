/**
 * HTTP to the PACS: credentials (HTTP Basic or a bearer token) and TLS with a custom CA, in one
 * place for the DICOMweb client and the Orthanc change feed. Credentials live only in this
 * closure: never in logs, job data or error messages.
 */
import * as fs from 'fs';
import { Agent, type Dispatcher } from 'undici';
import type { DicomwebConfig } from '../config/schema';

export interface PacsHttp {
  fetch(url: string, init?: RequestInit): Promise<Response>;
}

/**
 * How long before the end of the server's keep-alive hint a connection is no longer reused (ms).
 * Orthanc 1.10 answers `Keep-Alive: timeout=1` (and ignores its KeepAliveTimeout option); undici
 * subtracts a default margin of at least a second from such a hint, so every request opened a
 * connection of its own (measured: 10 of 10 change-feed reads; reading the feed every 100 ms for
 * 20 s left 190 sockets in TIME_WAIT, against 1 with this margin). With it an idle connection is
 * reused for up to 750 ms, well before the server closes it.
 */
export const KEEP_ALIVE_MARGIN_MS = 250;

/** Error codes of a request written to a kept-alive connection that the server had closed. */
const STALE_CONNECTION_CODES = new Set(['EPIPE', 'ECONNRESET', 'UND_ERR_SOCKET']);

/** Whether `e` (a fetch failure, its cause, or the cause's cause) is a closed connection. */
export function isStaleConnection(e: unknown): boolean {
  let c: unknown = e;
  for (let depth = 0; c && typeof c === 'object' && depth < 4; depth++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string' && STALE_CONNECTION_CODES.has(code)) return true;
    c = (c as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * Reads (GET) reuse connections, and one that fails on a connection the server had closed is
 * asked again once, on a new connection (a read can be repeated). Uploads (STOW-RS) go on a
 * connection of their own that is closed after the answer, as before keep-alive: on a kept-alive
 * connection Orthanc 1.10 sometimes closed it after a large upload, and the next upload failed
 * with EPIPE (measured: 2 of 15 uploads of 64 CT instances in a row).
 */
export function createPacsHttp(cfg: Pick<DicomwebConfig, 'username' | 'password' | 'token' | 'caFile'>): PacsHttp {
  const auth =
    cfg.token !== undefined
      ? `Bearer ${cfg.token}`
      : cfg.username !== undefined
        ? 'Basic ' + Buffer.from(`${cfg.username}:${cfg.password ?? ''}`).toString('base64')
        : undefined;
  const tls = cfg.caFile ? { connect: { ca: fs.readFileSync(cfg.caFile) } } : {};
  const reads: Dispatcher = new Agent({ keepAliveTimeoutThreshold: KEEP_ALIVE_MARGIN_MS, ...tls });
  const uploads: Dispatcher = new Agent({ pipelining: 0, ...tls }); // 0: no keep-alive
  return {
    async fetch(url, init = {}) {
      const headers = new Headers(init.headers);
      if (auth) headers.set('Authorization', auth);
      const read = (init.method ?? 'GET').toUpperCase() === 'GET';
      const request = { ...init, headers, dispatcher: read ? reads : uploads } as RequestInit;
      try {
        return await fetch(url, request);
      } catch (e) {
        if (!read || !isStaleConnection(e) || init.signal?.aborted) throw e;
        return fetch(url, request);
      }
    },
  };
}
