import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type ElementHandle, type Page } from 'playwright-core';
import { ROOT } from '../../helpers/child.js';

/** Debian's Chromium (`apt-get install chromium`; .ci/run installs it). */
export const CHROMIUM = process.env.DARKROOM_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** Where the end-to-end run writes its screenshots (named in the README). */
export const SCREENSHOTS = path.join(ROOT, 'test-results', 'screenshots');

export async function launchBrowser(): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) {
    throw new Error(`Chromium is not installed at ${CHROMIUM}: install it with "apt-get install -y chromium" (.ci/run does)`);
  }
  if (!fs.existsSync(path.join(ROOT, 'dist', 'renderer', 'index.html'))) {
    throw new Error('the web UI is not built: run "npm run build" first (npm test does)');
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
}

export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  /** Console errors, uncaught exceptions and CSP violations seen so far. */
  problems: string[];
}

/** A page in a fresh context (own storage), recording anything that went wrong in it. */
export async function openPage(browser: Browser, options: { colorScheme?: 'light' | 'dark'; width?: number; height?: number } = {}): Promise<WatchedPage> {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1360, height: options.height ?? 860 },
    colorScheme: options.colorScheme ?? 'light',
    acceptDownloads: true,
  });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`uncaught: ${err.message}`));
  page.on('console', (msg) => {
    const text = msg.text();
    // The browser logs failed requests as errors; the tests provoke some of those on purpose.
    if (msg.type() === 'error' && !/Failed to load resource/.test(text)) problems.push(`console: ${text}`);
    if (/Content Security Policy/i.test(text)) problems.push(`csp: ${text}`);
  });
  return { page, context, problems };
}

const require = createRequire(import.meta.url);
const AXE_SOURCE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[]; failureSummary?: string }>;
}

/**
 * Runs axe-core (WCAG 2.1 A and AA rules, plus best practices) on the page as it is now.
 * Evaluated through the devtools protocol, so the page's CSP (no inline scripts) still holds.
 */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  const has = await page.evaluate(() => typeof (window as unknown as { axe?: unknown }).axe !== 'undefined');
  if (!has) await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: unknown, opts: unknown) => Promise<{ violations: AxeViolation[] }> } }).axe;
    const result = await axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
      resultTypes: ['violations'],
    });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })) }));
  });
}

export function describeViolations(violations: AxeViolation[]): string {
  return violations.map((v) => `${v.id} (${v.impact}): ${v.help}\n  ${v.nodes.map((n) => n.target.join(' ')).join('\n  ')}`).join('\n');
}

export async function screenshot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<string> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  const file = path.join(SCREENSHOTS, `${name}.png`);
  // Let transitions (fades, progress bars) settle so the picture shows the state, not a frame of an animation.
  await page.waitForTimeout(350);
  await page.screenshot({ path: file, fullPage: options.fullPage ?? false });
  return file;
}

/**
 * Drops files on an element as a person dragging them from the file manager would: a real
 * `drop` event whose DataTransfer holds the files (read from disk by the browser, so large files
 * are not copied through the test).
 */
export async function dropFiles(page: Page, target: ElementHandle<Element> | string, files: string[]): Promise<void> {
  const element = typeof target === 'string' ? await page.waitForSelector(target) : target;
  const input = (await page.evaluateHandle(() => {
    const el = document.createElement('input');
    el.type = 'file';
    el.multiple = true;
    el.hidden = true;
    document.body.append(el);
    return el;
  })) as ElementHandle<HTMLInputElement>;
  await input.setInputFiles(files);
  await page.evaluate(
    ([source, zone]) => {
      const data = new DataTransfer();
      for (const file of Array.from(source.files ?? [])) data.items.add(file);
      for (const type of ['dragenter', 'dragover', 'drop']) {
        zone.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true, dataTransfer: data }));
      }
      source.remove();
    },
    [input, element] as const,
  );
}

/** Slows the page's uploads down (devtools network throttling), so a test can act mid-upload. */
export async function throttleUploads(page: Page, bytesPerSecond: number | null): Promise<void> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', {
    offline: false,
    latency: 0,
    downloadThroughput: -1,
    uploadThroughput: bytesPerSecond ?? -1,
  });
}

/** The value of the progress bar of the upload item showing this file name. */
export async function uploadProgress(page: Page, name: string): Promise<number> {
  const bar = page.locator('[data-testid=upload-item]', { hasText: name }).getByRole('progressbar');
  return Number(await bar.getAttribute('aria-valuenow'));
}

/**
 * Looks at a view the way a reviewer would, in the light and the dark theme: runs axe-core on
 * it and writes a screenshot of each. Returns the accessibility problems found in either.
 */
export async function reviewView(page: Page, name: string, options: { fullPage?: boolean; axe?: boolean } = {}): Promise<string> {
  const problems: string[] = [];
  for (const scheme of ['light', 'dark'] as const) {
    await page.emulateMedia({ colorScheme: scheme });
    await screenshot(page, `${name}-${scheme}`, options);
    if (options.axe !== false) {
      const violations = await axeViolations(page);
      if (violations.length) problems.push(`${name} (${scheme}):\n${describeViolations(violations)}`);
    }
  }
  await page.emulateMedia({ colorScheme: 'light' });
  return problems.join('\n');
}
