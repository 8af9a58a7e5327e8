/**
 * The viewer gateway's allow-list: which browser requests may reach the PACS, and in which form.
 *
 * A request is never forwarded as it came. Its raw target is checked, then parsed into a route
 * of the DICOMweb read API that OHIF uses (QIDO-RS searches; WADO-RS study, series, instance,
 * metadata, frames, bulk data, rendered and thumbnail), each path segment matched by its own
 * grammar (a UID is digits and dots), and rebuilt from the parsed parts. Everything else is
 * refused here, before a byte goes to the PACS: PACSs resolve `..`, decode `%2f` and honour
 * `?_method=DELETE` on their own APIs (Orthanc does all three), so anything that is not plainly one
 * of these routes could reach something else there.
 *
 * A pure function: the gateway (ohif-gateway.ts) calls it, the tests fuzz it.
 */
import { resolveAttribute } from '../dicom/part10';

export type RefusalReason =
  | 'absolute-form' // GET http://other-host/... as the request target
  | 'path-traversal' // `..` or `.` as a segment, raw or in any encoding
  | 'encoded-separator' // %2f, %5c: a slash the PACS would decode
  | 'backslash'
  | 'empty-segment' // `//`: a scheme-relative path could name another host
  | 'encoded-path' // any other %-escape: DICOMweb paths never need one
  | 'bad-character'
  | 'not-a-route' // well formed, but not a DICOMweb read route
  | 'method-override' // _method, X-HTTP-Method-Override and the like
  | 'bad-query';

export class GatewayRefusal extends Error {
  constructor(
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(message);
    this.name = 'GatewayRefusal';
  }
}

export type RouteKind = 'search' | 'retrieve' | 'rendered';

export interface ParsedRequest {
  kind: RouteKind;
  /** Rebuilt path below the DICOMweb root, e.g. /studies/1.2.3/series. */
  path: string;
  /** Rebuilt query string without `?` ('' when none). */
  query: string;
}

const UID = /^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*$/;
const FRAMES = /^[1-9][0-9]{0,6}(,[1-9][0-9]{0,6}){0,999}$/;
const BULK_PART = /^([0-9A-Fa-f]{8}|[0-9]{1,6})$/;
const MAX_URL = 8192;

function uid(s: string | undefined): boolean {
  return s !== undefined && s.length <= 64 && UID.test(s);
}

/** What could make a raw path (before any decoding) mean another place once decoded or resolved. */
function checkPathShape(raw: string): void {
  if (!raw.startsWith('/'))
    throw new GatewayRefusal('absolute-form', 'the request target must be a path (origin form)');
  if (raw.includes('\\')) throw new GatewayRefusal('backslash', 'a backslash in the path');
  const lower = raw.toLowerCase();
  if (lower.includes('%2f') || lower.includes('%5c'))
    throw new GatewayRefusal('encoded-separator', 'an encoded slash or backslash in the path');
  if (lower.includes('%2e') || raw.split('/').some((s) => s === '..' || s === '.'))
    throw new GatewayRefusal('path-traversal', 'a dot segment in the path');
  if (raw.includes('//')) throw new GatewayRefusal('empty-segment', 'an empty path segment');
}

/** A DICOMweb path: the shape checks, and nothing but the characters such paths hold. */
function checkRawPath(raw: string): void {
  checkPathShape(raw);
  if (raw.includes('%')) throw new GatewayRefusal('encoded-path', 'a %-escape in the path');
  if (!/^[A-Za-z0-9/.,_-]*$/.test(raw)) throw new GatewayRefusal('bad-character', 'a character no DICOMweb path holds');
}

/** Parses the path below the DICOMweb root into a route, or undefined. */
function route(segments: string[]): RouteKind | undefined {
  const [a, b, c, d, e, f, g, h, ...rest] = segments;
  const tail = (s: string | undefined, n: number): boolean => s === undefined && segments.length === n;
  const rendered = (s: string | undefined): boolean => s === 'rendered' || s === 'thumbnail';
  if (segments.length === 1 && (a === 'studies' || a === 'series' || a === 'instances')) return 'search';
  if (a !== 'studies' || !uid(b)) return undefined;
  if (tail(c, 2)) return 'retrieve';
  if (segments.length === 3)
    return c === 'metadata'
      ? 'retrieve'
      : rendered(c)
        ? 'rendered'
        : c === 'series' || c === 'instances'
          ? 'search'
          : undefined;
  if (c !== 'series' || !uid(d)) return undefined;
  if (tail(e, 4)) return 'retrieve';
  if (segments.length === 5)
    return e === 'metadata' ? 'retrieve' : rendered(e) ? 'rendered' : e === 'instances' ? 'search' : undefined;
  if (e !== 'instances' || !uid(f)) return undefined;
  if (tail(g, 6)) return 'retrieve';
  if (segments.length === 7) return g === 'metadata' ? 'retrieve' : rendered(g) ? 'rendered' : undefined;
  if (g === 'frames' && h !== undefined && FRAMES.test(h)) {
    if (segments.length === 8) return 'retrieve';
    return segments.length === 9 && rendered(rest[0]) ? 'rendered' : undefined;
  }
  if (g === 'bulk' && h !== undefined && segments.length <= 24 && [h, ...rest].every((s) => BULK_PART.test(s)))
    return 'retrieve';
  return undefined;
}

const OVERRIDE = /^(_?method|x-http-method(-override)?|x-method-override|_httpmethod)$/i;
const SEARCH_CONTROL: Record<string, RegExp> = {
  limit: /^[0-9]{1,6}$/,
  offset: /^[0-9]{1,7}$/,
  fuzzymatching: /^(true|false)$/,
  includefield: /^(all|[A-Za-z0-9]{1,64}(,[A-Za-z0-9]{1,64}){0,99})$/,
};
const RENDERED_PARAMS: Record<string, RegExp> = {
  viewport: /^[0-9]{1,5}(,[0-9]{1,5}){1,5}$/,
  quality: /^[0-9]{1,3}$/,
  window: /^-?[0-9.]{1,16},-?[0-9.]{1,16}(,[A-Za-z]{1,16})?$/,
  annotation: /^[a-z,]{1,64}$/,
};
/** A DICOM attribute as a QIDO match key: a keyword from the dictionary or a tag, or a dotted path of them. */
function matchKey(k: string): boolean {
  return k
    .split('.')
    .every(
      (p) => /^[0-9A-Fa-f]{8}$/.test(p) || (/^[A-Za-z][A-Za-z0-9]{0,63}$/.test(p) && resolveAttribute(p) !== undefined),
    );
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    throw new GatewayRefusal('bad-query', 'a malformed %-escape in the query');
  }
}

function parseQuery(raw: string, kind: RouteKind): string {
  if (raw === '') return '';
  const out: string[] = [];
  const pairs = raw.split('&');
  if (pairs.length > 64) throw new GatewayRefusal('bad-query', 'too many query parameters');
  for (const pair of pairs) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decode(eq < 0 ? pair : pair.slice(0, eq));
    const value = eq < 0 ? '' : decode(pair.slice(eq + 1));
    if (OVERRIDE.test(key))
      throw new GatewayRefusal(
        'method-override',
        `query parameter "${key.slice(0, 40)}" could change the request's method`,
      );
    // Control characters, and any escape that survived one decoding (a second decoding upstream).
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused here
    if (/[\u0000-\u001f\u007f%\\]/.test(value) || value.length > 1024)
      throw new GatewayRefusal(
        'bad-query',
        `query parameter "${key.slice(0, 40)}" has a value no DICOMweb query holds`,
      );
    const control = kind === 'search' ? SEARCH_CONTROL[key] : kind === 'rendered' ? RENDERED_PARAMS[key] : undefined;
    if (control) {
      if (!control.test(value)) throw new GatewayRefusal('bad-query', `query parameter "${key}" has an invalid value`);
    } else if (!(kind === 'search' && matchKey(key))) {
      throw new GatewayRefusal('bad-query', `query parameter "${key.slice(0, 40)}" is not allowed on this route`);
    }
    out.push(`${encodeURIComponent(key)}=${encodeURIComponent(value)}`);
  }
  return out.join('&');
}

/**
 * The request (method and raw target, as the HTTP parser gave them, the gateway's mount prefix
 * included) as a DICOMweb read, or a GatewayRefusal saying why not.
 */
export function parseGatewayRequest(method: string, rawTarget: string, mount = '/dicom-web'): ParsedRequest {
  if (method !== 'GET' && method !== 'HEAD')
    throw new GatewayRefusal(
      'not-a-route',
      `method ${method.slice(0, 16)} is not allowed: the viewer gateway only reads`,
    );
  if (rawTarget.length > MAX_URL) throw new GatewayRefusal('bad-query', 'the request target is too long');
  const q = rawTarget.indexOf('?');
  const rawPath = q < 0 ? rawTarget : rawTarget.slice(0, q);
  const rawQuery = q < 0 ? '' : rawTarget.slice(q + 1);
  checkRawPath(rawPath);
  if (rawPath !== mount && !rawPath.startsWith(`${mount}/`))
    throw new GatewayRefusal('not-a-route', 'not below the DICOMweb root');
  const below = rawPath.slice(mount.length).replace(/^\//, '');
  const segments = below === '' ? [] : below.split('/');
  const kind = route(segments);
  if (!kind) throw new GatewayRefusal('not-a-route', 'not a DICOMweb read route (QIDO-RS search or WADO-RS retrieve)');
  if (rawQuery.includes('#')) throw new GatewayRefusal('bad-query', 'a fragment in the request target');
  return { kind, path: `/${segments.join('/')}`, query: parseQuery(rawQuery, kind) };
}

/**
 * Checks a raw request target for the gateway's other routes (OHIF's files and its client-side
 * routes): the same path checks, so nothing the static file server decodes can climb out.
 */
export function checkAppTarget(rawTarget: string): void {
  if (rawTarget.length > MAX_URL) throw new GatewayRefusal('bad-query', 'the request target is too long');
  const q = rawTarget.indexOf('?');
  checkPathShape(q < 0 ? rawTarget : rawTarget.slice(0, q));
}
