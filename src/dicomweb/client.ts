/**
 * A small DICOMweb client (QIDO-RS, WADO-RS, STOW-RS) over Node's fetch.
 *
 * Why not dicomweb-client: in Node it needs an XMLHttpRequest shim, its retrieve calls throw on a
 * `mediaTypes` option (so "as stored" transfer syntaxes cannot be asked for), and it resolves a
 * STOW-RS partial failure (HTTP 202) like a success (see docs/architecture.md). Retrieving as stored
 * and reading the STOW answer per instance are both essential here, so this module does them itself.
 *
 * Errors: network failures, HTTP 5xx, 408 and 429 are retryable; other 4xx are not.
 */
import { AinodeError } from '../errors';
import type { DicomwebConfig } from '../config/schema';
import { boundaryOf, buildMultipart, MultipartSplitter } from './multipart';
import { createPacsHttp, type PacsHttp } from './http';
import type { DicomJson } from '../dicom/json';
import { jsonString, jsonSequence } from '../dicom/json';

export interface StowResult {
  stored: string[];
}

/** A series by WADO-RS, each instance handed over as it arrives (DicomwebClient, RetrieveThread). */
export interface SeriesRetriever {
  retrieveSeriesStreaming(studyUid: string, seriesUid: string, onInstance: (part10: Buffer) => void): Promise<number>;
}

export class DicomwebClient {
  private readonly http: PacsHttp;

  constructor(private readonly cfg: DicomwebConfig) {
    this.http = createPacsHttp(cfg);
  }

  get baseUrl(): string {
    return this.cfg.url;
  }

  private async request(
    method: string,
    path: string,
    headers: Record<string, string>,
    body?: Buffer,
    signal?: AbortSignal,
  ): Promise<Response> {
    const target = `${this.cfg.url}${path}`;
    let res: Response;
    try {
      const timeout = AbortSignal.timeout(this.cfg.timeoutMs);
      res = await this.http.fetch(target, {
        method,
        headers,
        body:
          body === undefined
            ? undefined
            : (new Uint8Array(body.buffer, body.byteOffset, body.byteLength) as Uint8Array<ArrayBuffer>),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (e) {
      throw new AinodeError('DICOMWEB_UNREACHABLE', `${method} ${path.split('?')[0]}: ${(e as Error).message}`, {
        retryable: true,
        hint: `check that the PACS answers at ${this.cfg.url}`,
        cause: e,
      });
    }
    if (res.status >= 400) {
      const text = (await res.text().catch(() => '')).slice(0, 200).replace(/\s+/g, ' ');
      const retryable = res.status >= 500 || res.status === 408 || res.status === 429;
      throw new AinodeError('DICOMWEB_HTTP_ERROR', `${method} ${path.split('?')[0]} -> HTTP ${res.status} ${text}`, {
        retryable,
        hint:
          res.status === 401 || res.status === 403
            ? 'check AINODE_DICOMWEB_USERNAME/PASSWORD or AINODE_DICOMWEB_TOKEN'
            : undefined,
      });
    }
    return res;
  }

  /**
   * QIDO-RS search; `path` like `/studies` or `/studies/{uid}/series`. An array value is sent as
   * the parameter repeated (`includefield=A&includefield=B`): Orthanc's DICOMweb plugin ignores a
   * comma-separated includefield list.
   */
  async search(path: string, params: Record<string, string | number | string[]> = {}): Promise<DicomJson[]> {
    const qs = new URLSearchParams(
      Object.entries(params).flatMap(([k, v]) => (Array.isArray(v) ? v.map((x) => [k, x]) : [[k, String(v)]])),
    ).toString();
    const res = await this.request('GET', qs ? `${path}?${qs}` : path, { Accept: 'application/dicom+json' });
    if (res.status === 204) return [];
    const text = await res.text();
    if (text.trim() === '') return [];
    try {
      const parsed = JSON.parse(text) as unknown;
      if (!Array.isArray(parsed)) throw new Error('not an array');
      return parsed as DicomJson[];
    } catch (e) {
      throw new AinodeError(
        'DICOMWEB_BAD_RESPONSE',
        `QIDO-RS ${path}: response is not a DICOM JSON array (${(e as Error).message})`,
        { retryable: true },
      );
    }
  }

  /** WADO-RS: every instance of a series as stored (no transcoding by the PACS), as Part 10 bytes. */
  async retrieveSeries(studyUid: string, seriesUid: string): Promise<Buffer[]> {
    const parts: Buffer[] = [];
    await this.retrieveSeriesStreaming(studyUid, seriesUid, (p) => void parts.push(p));
    return parts;
  }

  /**
   * WADO-RS, streaming: `onInstance` gets each instance's Part 10 bytes as soon as its part has
   * arrived, so decoding overlaps the transfer and the whole multipart body is never held.
   * Returns the number of instances. `signal` stops the transfer.
   */
  async retrieveSeriesStreaming(
    studyUid: string,
    seriesUid: string,
    onInstance: (part10: Buffer) => void,
    signal?: AbortSignal,
  ): Promise<number> {
    const res = await this.request(
      'GET',
      `/studies/${studyUid}/series/${seriesUid}`,
      { Accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' },
      undefined,
      signal,
    );
    const splitter = new MultipartSplitter(boundaryOf(res.headers.get('content-type') ?? ''), onInstance);
    if (!res.body) throw new AinodeError('DICOMWEB_BAD_RESPONSE', 'WADO-RS answer has no body', { retryable: true });
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) splitter.push(chunk);
    } catch (e) {
      if (e instanceof AinodeError) throw e;
      throw new AinodeError('DICOMWEB_UNREACHABLE', `WADO-RS transfer interrupted: ${(e as Error).message}`, {
        retryable: true,
        cause: e,
      });
    }
    const n = splitter.end();
    if (n === 0) throw new AinodeError('SERIES_NOT_FOUND', `series ${seriesUid} has no instances`, { retryable: true });
    return n;
  }

  /**
   * STOW-RS into one study. The answer is read per instance: every SOP Instance UID we sent must be
   * in ReferencedSOPSequence and none in FailedSOPSequence, else STOW_PARTIAL_FAILURE (retryable:
   * the outputs have deterministic UIDs, so storing again cannot duplicate them).
   */
  async store(studyUid: string, instances: { sopInstanceUid: string; part10: Buffer }[]): Promise<StowResult> {
    const { body, boundary } = buildMultipart(
      instances.map((i) => i.part10),
      'application/dicom',
    );
    const res = await this.request(
      'POST',
      `/studies/${studyUid}`,
      {
        'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
        Accept: 'application/dicom+json',
      },
      body,
    );
    const text = await res.text();
    let answer: DicomJson = {};
    if (text.trim() !== '') {
      try {
        answer = JSON.parse(text) as DicomJson;
      } catch {
        throw new AinodeError('DICOMWEB_BAD_RESPONSE', 'STOW-RS answer is not DICOM JSON', { retryable: true });
      }
    }
    const failed = jsonSequence(answer, '00081198').map((item) => jsonString(item, '00081155') ?? '?');
    const referenced = new Set(jsonSequence(answer, '00081199').map((item) => jsonString(item, '00081155')));
    const missing = instances.filter((i) => !referenced.has(i.sopInstanceUid)).map((i) => i.sopInstanceUid);
    if (failed.length > 0 || missing.length > 0 || res.status === 202) {
      throw new AinodeError(
        'STOW_PARTIAL_FAILURE',
        `STOW-RS HTTP ${res.status}: ${failed.length} failed, ${missing.length} not acknowledged of ${instances.length}`,
        { retryable: true, hint: 'see the PACS log for the rejected instances' },
      );
    }
    return { stored: instances.map((i) => i.sopInstanceUid) };
  }
}
