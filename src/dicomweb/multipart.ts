/**
 * multipart/related bodies (RFC 2387) as used by WADO-RS and STOW-RS, for DICOM Part 10 payloads.
 */
import { randomBytes } from 'crypto';
import { AinodeError } from '../errors';

export function boundaryOf(contentType: string): string {
  const m = /boundary="?([^";,]+)"?/i.exec(contentType);
  if (!m)
    throw new AinodeError(
      'DICOMWEB_BAD_RESPONSE',
      `multipart response without a boundary (Content-Type: ${contentType})`,
      { retryable: true },
    );
  return m[1];
}

/** Splits a multipart body into its parts' bodies (headers dropped). */
export function splitMultipart(body: Buffer, boundary: string): Buffer[] {
  const delim = Buffer.from(`--${boundary}`);
  const parts: Buffer[] = [];
  let pos = body.indexOf(delim);
  if (pos < 0)
    throw new AinodeError('DICOMWEB_BAD_RESPONSE', 'multipart body does not contain its boundary', { retryable: true });
  for (;;) {
    const afterDelim = pos + delim.length;
    if (body[afterDelim] === 0x2d && body[afterDelim + 1] === 0x2d) break; // closing "--boundary--"
    const headerEnd = body.indexOf('\r\n\r\n', afterDelim);
    if (headerEnd < 0)
      throw new AinodeError('DICOMWEB_BAD_RESPONSE', 'truncated multipart part headers', { retryable: true });
    const next = body.indexOf(delim, headerEnd + 4);
    if (next < 0)
      throw new AinodeError('DICOMWEB_BAD_RESPONSE', 'truncated multipart body (no closing boundary)', {
        retryable: true,
      });
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
 * of the part in progress. Chunks are appended into one growing buffer (capacity doubles, consumed
 * bytes are compacted away), so a series of N parts costs one copy per byte instead of re-copying
 * the part in progress for every chunk.
 */
export class MultipartSplitter {
  private store: Buffer = Buffer.allocUnsafe(1 << 16);
  /** The unconsumed bytes are store[start, end). */
  private start = 0;
  private end_ = 0;
  private started = false;
  private done = false;
  private count = 0;
  private readonly delim: Buffer;
  private readonly nextDelim: Buffer;
  /** Where the search for the next delimiter resumes, relative to `start` (bytes before it were already searched). */
  private scanFrom = 0;

  constructor(
    boundary: string,
    private readonly onPart: (part: Buffer) => void,
  ) {
    this.delim = Buffer.from(`--${boundary}`);
    this.nextDelim = Buffer.from(`\r\n--${boundary}`);
  }

  private append(chunk: Uint8Array): void {
    const used = this.end_ - this.start;
    if (this.end_ + chunk.length > this.store.length) {
      if (used + chunk.length <= this.store.length / 2) this.store.copyWithin(0, this.start, this.end_);
      else {
        let cap = this.store.length;
        while (cap < 2 * (used + chunk.length)) cap *= 2;
        const bigger = Buffer.allocUnsafe(cap);
        this.store.copy(bigger, 0, this.start, this.end_);
        this.store = bigger;
      }
      this.start = 0;
      this.end_ = used;
    }
    this.store.set(chunk, this.end_);
    this.end_ += chunk.length;
  }

  push(chunk: Uint8Array): void {
    if (this.done) return;
    this.append(chunk);
    for (;;) {
      const buf = this.store.subarray(this.start, this.end_);
      if (!this.started) {
        const i = buf.indexOf(this.delim);
        if (i < 0) return;
        this.start += i;
        this.started = true;
        continue;
      }
      const after = this.delim.length;
      if (buf.length < after + 2) return;
      if (buf[after] === 0x2d && buf[after + 1] === 0x2d) {
        this.done = true;
        this.store = Buffer.alloc(0);
        this.start = this.end_ = 0;
        return;
      }
      const headerEnd = buf.indexOf('\r\n\r\n', after);
      if (headerEnd < 0) return;
      const next = buf.indexOf(this.nextDelim, Math.max(headerEnd + 4, this.scanFrom));
      if (next < 0) {
        this.scanFrom = Math.max(0, buf.length - this.nextDelim.length);
        return;
      }
      this.onPart(Buffer.from(buf.subarray(headerEnd + 4, next)));
      this.count++;
      this.start += next + 2;
      this.scanFrom = 0;
    }
  }

  /** Number of parts; throws if the body ended before its closing boundary. */
  end(): number {
    if (!this.done)
      throw new AinodeError('DICOMWEB_BAD_RESPONSE', 'truncated multipart body (no closing boundary)', {
        retryable: true,
      });
    return this.count;
  }
}
