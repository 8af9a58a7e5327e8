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
