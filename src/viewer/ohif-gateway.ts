/**
 * A same-origin gateway for the OHIF viewer: serves OHIF's prebuilt `dist/` (npm `@ohif/app`)
 * with an SPA fallback and an `app-config.js` pointing at `/dicom-web` on the same origin, and
 * proxies `/dicom-web/*` to the PACS's DICOMweb root with ainode's own PACS credentials (the
 * browser never sees them). Every response carries the cross-origin isolation headers OHIF needs
 * for SharedArrayBuffer (COOP same-origin, COEP require-corp).
 *
 * The proxy is read-only (GET/HEAD): the viewer shows results; it does not write to the PACS.
 * It has no login of its own: bind it to localhost (default) or put it behind the site's SSO.
 * Sites that serve OHIF themselves behind their own proxy can start from orthanc/ohif-app-config.js
 * (the same configuration, kept equal to ohifAppConfig() by a test).
 */
import express, { type Request, type Response } from 'express';
import * as fs from 'fs';
import * as http from 'http';
import * as https from 'https';
import * as path from 'path';
import { ConfigError } from '../errors';
import { secretFileLayer } from '../config/schema';

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
}

/** Reads the viewer's settings from the same variables the node uses (docs/configuration.md). */
export function loadViewerConfig(processEnv: NodeJS.ProcessEnv, distDir: string | undefined): ViewerConfig {
  const env = { ...processEnv, ...secretFileLayer(processEnv) };
  const dist = distDir ?? env.AINODE_OHIF_DIST;
  if (!dist) throw new ConfigError('AINODE_OHIF_DIST', "is required: OHIF's dist/ folder (bash scripts/fetch-ohif.sh prints it)");
  if (!fs.existsSync(path.join(dist, 'index.html'))) throw new ConfigError('AINODE_OHIF_DIST', `${dist} has no index.html (is it the dist/ folder of @ohif/app?)`);
  const url = env.AINODE_DICOMWEB_URL;
  if (!url || !/^https?:\/\//.test(url)) throw new ConfigError('AINODE_DICOMWEB_URL', 'must be the http(s) DICOMweb root of the PACS');
  const port = Number(env.AINODE_VIEWER_PORT ?? 3000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError('AINODE_VIEWER_PORT', 'must be a port number');
  const username = env.AINODE_DICOMWEB_USERNAME || undefined;
  const password = env.AINODE_DICOMWEB_PASSWORD || undefined;
  if ((username === undefined) !== (password === undefined)) throw new ConfigError('AINODE_DICOMWEB_PASSWORD', 'set both AINODE_DICOMWEB_USERNAME and AINODE_DICOMWEB_PASSWORD, or neither');
  return {
    distDir: path.resolve(dist),
    dicomwebUrl: url.replace(/\/+$/, ''),
    username,
    password,
    token: env.AINODE_DICOMWEB_TOKEN || undefined,
    caFile: env.AINODE_DICOMWEB_CA_FILE || undefined,
    host: env.AINODE_VIEWER_HOST || '127.0.0.1',
    port,
  };
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
}

export function createViewerApp(cfg: ViewerConfig): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use((_req, res, next) => (isolationHeaders(res), next()));
  const upstream = new URL(cfg.dicomwebUrl);
  const ca = cfg.caFile ? fs.readFileSync(cfg.caFile) : undefined;
  const auth = cfg.token ? `Bearer ${cfg.token}` : cfg.username ? `Basic ${Buffer.from(`${cfg.username}:${cfg.password}`).toString('base64')}` : undefined;

  app.use('/dicom-web', (req: Request, res: Response) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.status(405).setHeader('Allow', 'GET, HEAD');
      res.json({ code: 'VIEWER_READ_ONLY', message: 'the viewer gateway only reads from the PACS' });
      return;
    }
    const target = new URL(upstream.pathname.replace(/\/$/, '') + req.url, upstream);
    const headers: http.OutgoingHttpHeaders = {};
    for (const h of ['accept', 'range', 'if-none-match', 'if-modified-since']) if (req.headers[h]) headers[h] = req.headers[h];
    if (auth) headers.authorization = auth;
    const send = target.protocol === 'https:' ? https.request : http.request;
    const up = send(target, { method: req.method, headers, ...(ca ? { ca } : {}) }, (r) => {
      res.status(r.statusCode ?? 502);
      for (const [k, v] of Object.entries(r.headers)) if (v !== undefined && !['connection', 'transfer-encoding', 'www-authenticate'].includes(k)) res.setHeader(k, v);
      isolationHeaders(res);
      r.pipe(res);
    });
    up.on('error', (e) => {
      if (!res.headersSent) res.status(502).json({ code: 'DICOMWEB_UNREACHABLE', message: `the PACS did not answer: ${e.message}` });
      else res.destroy();
    });
    req.on('aborted', () => up.destroy());
    up.end();
  });

  app.get('/app-config.js', (_req, res) => {
    res.type('application/javascript').setHeader('Cache-Control', 'no-store');
    res.send(ohifAppConfig());
  });
  app.use(express.static(cfg.distDir, { index: 'index.html', fallthrough: true }));
  // SPA fallback: OHIF routes (/viewer, /segmentation, ...) are client-side.
  app.get(/^\/(?!dicom-web\/).*/, (_req, res) => res.sendFile(path.join(cfg.distDir, 'index.html')));
  return app;
}

export async function startViewer(cfg: ViewerConfig): Promise<{ server: http.Server; url: string }> {
  const app = createViewerApp(cfg);
  const server = await new Promise<http.Server>((resolve, reject) => {
    const s = app.listen(cfg.port, cfg.host, () => resolve(s)).on('error', reject);
  });
  const addr = server.address() as { port: number };
  return { server, url: `http://${cfg.host === '0.0.0.0' ? '127.0.0.1' : cfg.host}:${addr.port}` };
}
