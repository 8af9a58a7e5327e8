/**
 * multipart/related bodies (RFC 2387) as used by WADO-RS and STOW-RS, for DICOM Part 10 payloads.
 */
import { randomBytes } from 'crypto';
import { AinodeError } from '../errors';

export function boundaryOf(contentType: string): string {
  const m = /boundary="?([^";,]+)"?/i.exec(contentType);
  if (!m) throw new AinodeError('DICOMWEB_BAD_RESPONSE', `multipart response without a boundary (Content-Type: ${contentType})`, { retryable: true });
  return m[1];
}

/** Splits a multipart body into its parts' bodies (headers dropped). */
export function splitMultipart(body: Buffer, boundary: string): Buffer[] {
  const delim = Buffer.from(`--${boundary}`);
  const parts: Buffer[] = [];
  let pos = body.indexOf(delim);
  if (pos < 0) throw new AinodeError('DICOMWEB_BAD_RESPONSE', 'multipart body does not contain its boundary', { retryable: true });
  for (;;) {
    const afterDelim = pos + delim.length;
    if (body[afterDelim] === 0x2d && body[afterDelim + 1] === 0x2d) break; // closing "--boundary--"
    const headerEnd = body.indexOf('\r\n\r\n', afterDelim);
    if (headerEnd < 0) throw new AinodeError('DICOMWEB_BAD_RESPONSE', 'truncated multipart part headers', { retryable: true });
    const next = body.indexOf(delim, headerEnd + 4);
    if (next < 0) throw new AinodeError('DICOMWEB_BAD_RESPONSE', 'truncated multipart body (no closing boundary)', { retryable: true });
    let end = next;
    if (body[end - 2] === 0x0d && body[end - 1] === 0x0a) end -= 2; // CRLF belongs to the delimiter
    parts.push(body.subarray(headerEnd + 4, end));
    pos = next;
  }
  return parts;
}

export function buildMultipart(parts: Buffer[], partContentType: string): { body: Buffer; boundary: string } {
  const boundary = `ainode-${randomBytes(12).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const p of parts) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: ${partContentType}\r\n\r\n`));
    chunks.push(p);
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), boundary };
}

/**
 * Incremental multipart/related splitter: feed it chunks as they arrive; it calls `onPart` with
 * each complete part body (a copy, so the chunk buffers can be released) and keeps only the bytes
 * of the part in progress.
 */
export class MultipartSplitter {
  private buf: Buffer = Buffer.alloc(0);
  private started = false;
  private done = false;
  private count = 0;
  private readonly delim: Buffer;
  private readonly nextDelim: Buffer;
  /** Where the search for the next delimiter resumes (bytes before it were already searched). */
  private scanFrom = 0;

  constructor(boundary: string, private readonly onPart: (part: Buffer) => void) {
    this.delim = Buffer.from(`--${boundary}`);
    this.nextDelim = Buffer.from(`\r\n--${boundary}`);
  }

  push(chunk: Uint8Array): void {
    if (this.done) return;
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : Buffer.from(chunk);
    for (;;) {
      if (!this.started) {
        const i = this.buf.indexOf(this.delim);
        if (i < 0) return;
        this.buf = this.buf.subarray(i);
        this.started = true;
      }
      const after = this.delim.length;
      if (this.buf.length < after + 2) return;
      if (this.buf[after] === 0x2d && this.buf[after + 1] === 0x2d) {
        this.done = true;
        this.buf = Buffer.alloc(0);
        return;
      }
      const headerEnd = this.buf.indexOf('\r\n\r\n', after);
      if (headerEnd < 0) return;
      const next = this.buf.indexOf(this.nextDelim, Math.max(headerEnd + 4, this.scanFrom));
      if (next < 0) {
        this.scanFrom = Math.max(0, this.buf.length - this.nextDelim.length);
        return;
      }
      this.onPart(Buffer.from(this.buf.subarray(headerEnd + 4, next)));
      this.count++;
      this.buf = this.buf.subarray(next + 2);
      this.scanFrom = 0;
    }
  }

  /** Number of parts; throws if the body ended before its closing boundary. */
  end(): number {
    if (!this.done) throw new AinodeError('DICOMWEB_BAD_RESPONSE', 'truncated multipart body (no closing boundary)', { retryable: true });
    return this.count;
  }
}
