/**
 * OHIF in Debian's own headless Chromium (playwright-core; no downloaded browser), the way a
 * radiologist would use it: open a study, double-click a SEG or SR in the study browser, confirm
 * the "open/track?" prompt, read the panels, take screenshots.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { REPO_ROOT } from './ainode-process';

export const CHROMIUM = process.env.AINODE_CHROMIUM ?? '/usr/bin/chromium';
export const ARTIFACTS_DIR = path.join(REPO_ROOT, 'run', 'artifacts', 'ohif');

/** OHIF's dist/: AINODE_OHIF_DIST, or fetched (pinned, integrity-checked) by scripts/fetch-ohif.sh. */
export function ohifDist(): string {
  if (process.env.AINODE_OHIF_DIST) return process.env.AINODE_OHIF_DIST;
  return execFileSync('bash', [path.join(REPO_ROOT, 'scripts', 'fetch-ohif.sh')], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .pop()!;
}

export async function launchChromium(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} not found: install Debian's chromium (scripts/ensure-deps.sh does) or set AINODE_CHROMIUM`,
    );
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--use-gl=angle',
      '--use-angle=swiftshader',
      '--enable-unsafe-swiftshader',
    ],
  });
}

export class OhifSession {
  /** Uncaught page errors and console errors: OHIF reports problems with a SEG or SR there. */
  readonly errors: string[] = [];
  private constructor(readonly page: Page) {
    page.on('pageerror', (e) => this.errors.push(`page error: ${e.message}`));
    page.on('console', (m) => void (m.type() === 'error' && this.errors.push(`console error: ${m.text()}`)));
  }

  /**
   * Opens the study; ready when the viewport shows an image: a stack's instance number ("I: 3"),
   * or for a single image (`single`) the window/level of the displayed image ("W: 1024 L: 511").
   */
  static async open(browser: Browser, viewerUrl: string, studyUid: string, single = false): Promise<OhifSession> {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    // A first visit shows a guided tour over the viewer; a returning user has seen it.
    await page.addInitScript(() => localStorage.setItem('shownTours', '["basicViewerTour"]'));
    const s = new OhifSession(page);
    await page.goto(`${viewerUrl}/viewer?StudyInstanceUIDs=${studyUid}`);
    try {
      await page
        .locator(single ? '[data-cy^="viewport-overlay"]' : '[data-cy="viewport-overlay-bottom-right"]', {
          hasText: single ? /W:\s*\d+/ : /I:\s*\d+/,
        })
        .first()
        .waitFor({ timeout: 90_000 });
    } catch (e) {
      const texts = await page.$$eval('[data-cy^="viewport-overlay"]', (els) =>
        els.map((x) => (x as HTMLElement).innerText),
      );
      await s.screenshot(`open-failed-${studyUid.slice(-8)}.png`);
      throw new Error(`${(e as Error).message.split('\n')[0]}; overlays: ${JSON.stringify(texts)}`, { cause: e });
    }
    return s;
  }

  /** Double-click a series in the study browser by its description; confirm the prompt. */
  async loadDerivedSeries(description: string | RegExp): Promise<void> {
    const thumb = this.page.locator('[data-cy="study-browser-thumbnail-no-image"]', { hasText: description });
    await thumb.waitFor({ timeout: 30_000 });
    await thumb.dblclick();
    await this.page.locator('[data-cy="yes-hydrate-btn"]').click({ timeout: 30_000 });
  }

  /** Open a right-hand panel (segmentation or measurements) unless it is already showing `probe`. */
  async showPanel(button: 'panelSegmentation-btn' | 'trackedMeasurements-btn', probe: string): Promise<void> {
    if (await this.page.locator(probe).first().isVisible()) return;
    await this.page.locator(`[data-cy="${button}"]`).click();
    await this.page.locator(probe).first().waitFor({ timeout: 30_000 });
  }

  /** Segment rows of the segmentation panel (the rows with a colour swatch). */
  async segmentLabels(count: number): Promise<string[]> {
    await this.showPanel('panelSegmentation-btn', '[data-cy="segmentation-select"]');
    const rows = (): string[] =>
      Array.from(document.querySelectorAll('[data-cy="data-row"]'))
        .filter((r) => (r as HTMLElement).offsetParent !== null && r.querySelector('[data-cy="data-row-colorhex"]'))
        .map((r) => (r.querySelector('[data-cy="data-row-title"]')?.textContent ?? '').trim());
    await this.page.waitForFunction(`(${rows.toString()})().length >= ${count}`, undefined, { timeout: 30_000 });
    return this.page.evaluate(`(${rows.toString()})()`) as Promise<string[]>;
  }

  async measurementRows(count: number): Promise<string[]> {
    await this.showPanel(
      'trackedMeasurements-btn',
      '[data-cy="trackedMeasurements-panel"] [data-cy="measurement-table-row-0"]',
    );
    await this.page.waitForFunction(
      (n) => document.querySelectorAll('[data-cy^="measurement-table-row-"]').length >= n,
      count,
      { timeout: 30_000 },
    );
    return this.page.$$eval('[data-cy^="measurement-table-row-"]', (els) =>
      els.map((e) => (e as HTMLElement).innerText),
    );
  }

  /** The instance number the viewport shows ("I: 47 (47/64)"). */
  async shownInstance(): Promise<number> {
    const t = await this.page.locator('[data-cy="viewport-overlay-bottom-right"]').first().innerText();
    return Number(/I:\s*(\d+)/.exec(t)?.[1]);
  }

  /** The viewport as the screen shows it: RGBA pixels of a screenshot, decoded by the browser itself. */
  async viewportPixels(): Promise<{ width: number; height: number; rgba: Buffer }> {
    const png = await this.page.locator('[data-cy="viewport-pane"]').first().screenshot();
    const out = await this.page.evaluate(async (b64) => {
      const img = new Image();
      img.src = `data:image/png;base64,${b64}`;
      await img.decode();
      const c = document.createElement('canvas');
      c.width = img.width;
      c.height = img.height;
      const ctx = c.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      const d = ctx.getImageData(0, 0, c.width, c.height).data;
      let bin = '';
      for (let i = 0; i < d.length; i += 0x8000) bin += String.fromCharCode(...d.subarray(i, i + 0x8000));
      return { width: c.width, height: c.height, b64: btoa(bin) };
    }, png.toString('base64'));
    return { width: out.width, height: out.height, rgba: Buffer.from(out.b64, 'base64') };
  }

  /**
   * Pixels of the viewport that are coloured (max-min channel > 40): the images here are
   * greyscale, so colour comes only from overlays (segments, outlines, measurement text).
   */
  async colouredFraction(): Promise<number> {
    const { width, height, rgba: d } = await this.viewportPixels();
    let n = 0;
    for (let i = 0; i < d.length; i += 4)
      if (Math.max(d[i], d[i + 1], d[i + 2]) - Math.min(d[i], d[i + 1], d[i + 2]) > 40) n++;
    return n / (width * height);
  }

  async screenshot(name: string): Promise<string> {
    fs.mkdirSync(ARTIFACTS_DIR, { recursive: true });
    const file = path.join(ARTIFACTS_DIR, name);
    await this.page.screenshot({ path: file });
    return file;
  }
}
