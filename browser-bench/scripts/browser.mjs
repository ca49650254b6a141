// Launches Debian's Chromium through playwright-core (no Playwright browser download exists
// here) with the flags from docs/wasm.md, and serves www/ with COOP/COEP.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import { startServer } from './serve.mjs';

export const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run',
  // Keep timers and workers at full speed even though the page is never "visible".
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows',
];

export function chromiumPath() {
  for (const p of [process.env.CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']) {
    if (p && fs.existsSync(p)) return p;
  }
  throw new Error('no Chromium found: run scripts/setup.sh wasm (apt-get install chromium) or set CHROMIUM=/path');
}

/** {browser, page, server, url, close()} with console/page errors collected in `errors`. */
export async function openPage({ isolation = true, width = 1400, height = 1000 } = {}) {
  const srv = await startServer({ port: 0, isolation });
  const browser = await chromium.launch({ executablePath: chromiumPath(), args: CHROMIUM_ARGS, headless: true });
  const page = await browser.newPage({ viewport: { width, height } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') errors.push(`console: ${m.text()}`); });
  return {
    browser, page, url: srv.url, errors,
    async close() { await browser.close(); await srv.close(); },
  };
}
