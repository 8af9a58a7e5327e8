/**
 * A same-origin gateway for the OHIF viewer: serves OHIF's prebuilt `dist/` (npm `@ohif/app`)
 * with an SPA fallback and an `app-config.js` pointing at `/dicom-web` on the same origin, and
 * forwards DICOMweb reads to the PACS with ainode's own PACS credentials (the browser never sees
 * them). Every response carries the cross-origin isolation headers OHIF needs for
 * SharedArrayBuffer (COOP same-origin, COEP require-corp, CORP same-origin).
 *
 * Safe by construction (docs/security.md):
 * - Only DICOMweb read routes pass, each parsed and rebuilt from an allow-list
 *   (dicomweb-routes.ts); anything else gets a coded 400 before a byte goes to the PACS.
 * - The PACS's origin and root path come from configuration only; the request names the route,
 *   never the host. The credentials go only there.
 * - DICOMweb requests from another site (Sec-Fetch-Site other than same-origin) are refused, so
 *   a page elsewhere cannot use a radiologist's browser session against the gateway.
 * - Users sign in (viewer-auth.ts), or the site's proxy does; open access is loopback only.
 * - Responses carry the PACS's data and nothing about it: no address, server header, version
 *   or error body; PACS errors become coded errors of the gateway.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as path from 'path';
import { ConfigError, listenError } from '../errors';
import { loadViewerSettings, type ViewerSettings } from '../config/schema';
import type { Logger } from '../observability/logger';
import { checkAppTarget, GatewayRefusal, parseGatewayRequest } from './dicomweb-routes';
import { authorizer, parseUsersFile, type ViewerAuth } from './viewer-auth';

export interface ViewerConfig {
  /** OHIF's dist/ folder (holds index.html). */
  distDir: string;
  /** The PACS's DICOMweb root, e.g. http://127.0.0.1:8042/dicom-web. */
  dicomwebUrl: string;
  username?: string;
  password?: string;
  token?: string;
  caFile?: string;
  host: string;
  port: number;
  /** Who may use the gateway (viewer-auth.ts). */
  auth: ViewerAuth;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * The viewer's configuration: the settings config/schema.ts reads for it (the same PACS settings
 * and checks as the node's, every problem at once), then what only the viewer can check: OHIF's
 * folder, and who may sign in.
 */
export function loadViewerConfig(
  processEnv: NodeJS.ProcessEnv,
  distDir: string | undefined,
): ViewerConfig & { warnings: string[] } {
  const v = loadViewerSettings(processEnv);
  const dist = distDir ?? v.ohifDist;
  if (!dist)
    throw new ConfigError(
      'AINODE_OHIF_DIST',
      "is required: OHIF's dist/ folder (bash scripts/fetch-ohif.sh prints it)",
    );
  if (!fs.existsSync(path.join(dist, 'index.html')))
    throw new ConfigError('AINODE_OHIF_DIST', `${dist} has no index.html (is it the dist/ folder of @ohif/app?)`);
  const u = new URL(v.dicomweb.url);
  return {
    distDir: path.resolve(dist),
    dicomwebUrl: `${u.origin}${u.pathname.replace(/\/+$/, '')}`,
    username: v.dicomweb.username,
    password: v.dicomweb.password,
    token: v.dicomweb.token,
    caFile: v.dicomweb.caFile,
    host: v.host,
    port: v.port,
    auth: viewerAuth(v.auth, v.host),
    warnings: v.warnings,
  };
}

function viewerAuth(a: ViewerSettings['auth'], host: string): ViewerAuth {
  if (a.mode && (a.token || a.usersFile))
    throw new ConfigError(
      'AINODE_VIEWER_AUTH',
      `is "${a.mode}" but AINODE_VIEWER_TOKEN or AINODE_VIEWER_USERS_FILE is set too; choose one`,
    );
  if (a.mode === 'proxy') return { kind: 'proxy' };
  if (a.token || a.usersFile)
    return {
      kind: 'checked',
      ...(a.token ? { token: a.token } : {}),
      ...(a.usersFile ? { users: parseUsersFile(a.usersFile) } : {}),
    };
  if (!isLoopback(host))
    throw new ConfigError(
      'AINODE_VIEWER_HOST',
      `is ${host}, reachable from the network, but no one signs in: set AINODE_VIEWER_USERS_FILE or AINODE_VIEWER_TOKEN, or AINODE_VIEWER_AUTH=proxy behind the site's SSO`,
    );
  return { kind: 'none' };
}

/**
 * OHIF's configuration for a DICOMweb data source on the same origin. Orthanc needs
 * omitQuotationForMultipartRequest; it does not support includefield in QIDO-RS the way OHIF asks.
 */
export function ohifAppConfig(): string {
  const config = {
    routerBasename: '/',
    showStudyList: true,
    extensions: [],
    modes: [],
    investigationalUseDialog: { option: 'never' },
    showWarningMessageForCrossOrigin: false,
    showCPUFallbackMessage: false,
    defaultDataSourceName: 'ainode-pacs',
    dataSources: [
      {
        namespace: '@ohif/extension-default.dataSourcesModule.dicomweb',
        sourceName: 'ainode-pacs',
        configuration: {
          friendlyName: 'PACS (through ainode viewer gateway)',
          name: 'ainode-pacs',
          wadoUriRoot: '/dicom-web',
          qidoRoot: '/dicom-web',
          wadoRoot: '/dicom-web',
          qidoSupportsIncludeField: false,
          imageRendering: 'wadors',
          thumbnailRendering: 'wadors',
          enableStudyLazyLoad: true,
          supportsFuzzyMatching: false,
          supportsWildcard: true,
          omitQuotationForMultipartRequest: true,
          bulkDataURI: { enabled: true, relativeResolution: 'studies' },
        },
      },
    ],
  };
  return `// OHIF (npm @ohif/app 3.13.2) configuration for Orthanc's DICOMweb on the same origin (/dicom-web
// proxied to Orthanc, as \`ainode viewer\` does). Generated from src/viewer/ohif-gateway.ts.
window.config = ${JSON.stringify(config, null, 2)};\n`;
}

function isolationHeaders(res: Response): void {
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('X-Content-Type-Options', 'nosniff');
}

type GatewayCode =
  | 'GATEWAY_REQUEST_REFUSED'
  | 'GATEWAY_CROSS_SITE'
  | 'GATEWAY_AUTH_REQUIRED'
  | 'GATEWAY_NOT_FOUND'
  | 'PACS_UNREACHABLE'
  | 'PACS_REFUSED_GATEWAY'
  | 'PACS_ERROR'
  | 'GATEWAY_ERROR';

function fail(
  res: Response,
  status: number,
  code: GatewayCode,
  message: string,
  extra: Record<string, unknown> = {},
): void {
  if (res.headersSent) return void res.destroy();
  res.status(status).setHeader('Cache-Control', 'no-store');
  res.json({ code, message, ...extra });
}

/** Response headers of the PACS that a viewer needs; all others (Server, its cookies, ...) stay behind. */
const PASSED_HEADERS = [
  'content-type',
  'content-length',
  'etag',
  'last-modified',
  'cache-control',
  'content-range',
  'accept-ranges',
  'content-encoding',
];
/** Request headers passed on, each printable and short. */
const FORWARDED_REQUEST_HEADERS = ['accept', 'if-none-match', 'if-modified-since', 'accept-encoding'];

/** The host the browser used, when it is a plain host[:port] (for the PACS's BulkDataURIs). */
function publicHost(req: Request): string | undefined {
  const h = req.headers.host;
  return h && /^([A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\])(:[0-9]{1,5})?$/.test(h) ? h : undefined;
}

export function createViewerApp(cfg: ViewerConfig, log?: Logger): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('query parser', false); // the gateway parses queries itself; nothing else reads them
  const upstream = new URL(cfg.dicomwebUrl);
  const basePath = upstream.pathname.replace(/\/+$/, '');
  const send = upstream.protocol === 'https:' ? https.request : http.request;
  const agent =
    upstream.protocol === 'https:'
      ? new https.Agent({ keepAlive: true, ...(cfg.caFile ? { ca: fs.readFileSync(cfg.caFile) } : {}) })
      : new http.Agent({ keepAlive: true });
  const pacsAuth = cfg.token
    ? `Bearer ${cfg.token}`
    : cfg.username
      ? `Basic ${Buffer.from(`${cfg.username}:${cfg.password}`).toString('base64')}`
      : undefined;
  const allowed = authorizer(cfg.auth);

  app.use((req: Request, res: Response, next: NextFunction) => {
    isolationHeaders(res);
    try {
      checkAppTarget(req.url);
    } catch (e) {
      return fail(res, 400, 'GATEWAY_REQUEST_REFUSED', (e as Error).message, { reason: (e as GatewayRefusal).reason });
    }
    // Liveness for probes: no sign-in, and nothing in it but that the gateway runs.
    if (req.url === '/health' && (req.method === 'GET' || req.method === 'HEAD'))
      return void res.setHeader('Cache-Control', 'no-store').json({ status: 'ok' });
    if (allowed(req.headers.authorization) === undefined) {
      res.setHeader(
        'WWW-Authenticate',
        cfg.auth.kind === 'checked' && cfg.auth.users ? 'Basic realm="ainode viewer", charset="UTF-8"' : 'Bearer',
      );
      return fail(res, 401, 'GATEWAY_AUTH_REQUIRED', 'sign in to use the viewer');
    }
    next();
  });

  const dicomweb = (req: Request, res: Response): void => {
    // A page elsewhere must not drive a signed-in browser against the PACS's data (CSRF, and
    // reading images into another site). OHIF's own requests are same-origin; a link to the viewer
    // from another site still opens it (its pages are not behind this check).
    const site = req.headers['sec-fetch-site'];
    if (site !== undefined && site !== 'same-origin' && site !== 'none')
      return fail(res, 403, 'GATEWAY_CROSS_SITE', 'DICOMweb requests from other sites are refused');
    let parsed;
    try {
      parsed = parseGatewayRequest(req.method, req.originalUrl);
    } catch (e) {
      if (!(e instanceof GatewayRefusal)) throw e;
      if (req.method !== 'GET' && req.method !== 'HEAD') res.setHeader('Allow', 'GET, HEAD');
      return fail(
        res,
        req.method !== 'GET' && req.method !== 'HEAD' ? 405 : 400,
        'GATEWAY_REQUEST_REFUSED',
        e.message,
        { reason: e.reason },
      );
    }
    const headers: http.OutgoingHttpHeaders = {};
    for (const h of FORWARDED_REQUEST_HEADERS) {
      const v = req.headers[h];
      if (typeof v === 'string' && v.length <= 1024 && /^[\x20-\x7e]*$/.test(v)) headers[h] = v;
    }
    if (pacsAuth) headers.authorization = pacsAuth;
    // So the PACS writes this gateway, not itself, into BulkDataURIs (Orthanc reads RFC 7239 Forwarded).
    const host = publicHost(req);
    if (host) headers.forwarded = `host=${host};proto=${req.socket && 'encrypted' in req.socket ? 'https' : 'http'}`;
    const target = `${basePath}${parsed.path}${parsed.query ? `?${parsed.query}` : ''}`;
    const up = send(
      {
        protocol: upstream.protocol,
        hostname: upstream.hostname,
        port: upstream.port || undefined,
        path: target,
        method: req.method,
        headers,
        agent,
        timeout: 120_000,
      },
      (r) => {
        const status = r.statusCode ?? 502;
        if (status >= 400) {
          r.resume();
          log?.warn({ status, route: parsed.kind }, 'the PACS answered a viewer request with an error');
          if (status === 404) return fail(res, 404, 'GATEWAY_NOT_FOUND', 'not found in the PACS');
          if (status === 401 || status === 403)
            return fail(
              res,
              502,
              'PACS_REFUSED_GATEWAY',
              "the PACS refused the gateway's credentials; ask the administrator to check AINODE_DICOMWEB_USERNAME/PASSWORD",
            );
          if (status < 500)
            return fail(res, 400, 'GATEWAY_REQUEST_REFUSED', 'the PACS refused the request', {
              reason: 'pacs-refused',
            });
          return fail(
            res,
            502,
            'PACS_ERROR',
            'the PACS failed to answer; try again, or ask the administrator to look at the PACS',
          );
        }
        res.status(status);
        for (const k of PASSED_HEADERS) if (r.headers[k] !== undefined) res.setHeader(k, r.headers[k] as string);
        r.pipe(res);
      },
    );
    up.on('timeout', () => up.destroy(new Error('timeout')));
    up.on('error', (e) => {
      log?.warn(
        { err: { code: (e as NodeJS.ErrnoException).code, message: e.message } },
        'the PACS did not answer a viewer request',
      );
      fail(
        res,
        502,
        'PACS_UNREACHABLE',
        'the PACS did not answer; try again, or ask the administrator to check that it runs',
      );
    });
    res.on('close', () => up.destroy());
    up.end();
  };
  app.all(/^\/dicom-web(\/.*)?$/, dicomweb);

  app.get('/app-config.js', (_req, res) => {
    res.type('application/javascript').setHeader('Cache-Control', 'no-store');
    res.send(ohifAppConfig());
  });
  app.use(express.static(cfg.distDir, { index: 'index.html', fallthrough: true, dotfiles: 'deny' }));
  // SPA fallback: OHIF routes (/viewer, /segmentation, ...) are client-side.
  app.get(/^\/(?!dicom-web(\/|$)).*/, (_req, res) => res.sendFile(path.join(cfg.distDir, 'index.html')));
  app.use((_req: Request, res: Response) => fail(res, 404, 'GATEWAY_NOT_FOUND', 'no such page'));
  // One error handler: a coded error, never a stack or a path.
  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = typeof (err as { status?: unknown }).status === 'number' ? (err as { status: number }).status : 500;
    if (status >= 500) log?.error({ err: { message: (err as Error).message } }, 'viewer gateway request failed');
    if (status === 404) return fail(res, 404, 'GATEWAY_NOT_FOUND', 'no such page');
    if (status < 500)
      return fail(res, status, 'GATEWAY_REQUEST_REFUSED', 'the request could not be read', { reason: 'bad-request' });
    fail(res, 500, 'GATEWAY_ERROR', 'the gateway failed; try again');
  });
  return app;
}

export async function startViewer(cfg: ViewerConfig, log?: Logger): Promise<{ server: http.Server; url: string }> {
  const app = createViewerApp(cfg, log);
  const server = await new Promise<http.Server>((resolve, reject) => {
    // Express 5 calls back with the error when the server cannot listen.
    const s = app.listen(cfg.port, cfg.host, (e?: Error) =>
      e ? reject(listenError(e, cfg.host, cfg.port, 'AINODE_VIEWER_HOST / AINODE_VIEWER_PORT')) : resolve(s),
    );
  });
  const addr = server.address() as { port: number };
  return { server, url: `http://${cfg.host === '0.0.0.0' ? '127.0.0.1' : cfg.host}:${addr.port}` };
}
