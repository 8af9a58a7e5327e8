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

export function createPacsHttp(cfg: Pick<DicomwebConfig, 'username' | 'password' | 'token' | 'caFile'>): PacsHttp {
  const auth = cfg.token !== undefined ? `Bearer ${cfg.token}` : cfg.username !== undefined ? 'Basic ' + Buffer.from(`${cfg.username}:${cfg.password ?? ''}`).toString('base64') : undefined;
  const dispatcher: Dispatcher | undefined = cfg.caFile ? new Agent({ connect: { ca: fs.readFileSync(cfg.caFile) } }) : undefined;
  return {
    fetch(url, init = {}) {
      const headers = new Headers(init.headers);
      if (auth) headers.set('Authorization', auth);
      return fetch(url, { ...init, headers, ...(dispatcher ? { dispatcher } : {}) } as RequestInit);
    },
  };
}
