// The headless Chromium page both browser checks drive: Debian's (or the bootstrap's) Chromium with the flags
// that keep it off the network, a fresh profile, and a route that aborts every request to another host than
// the ComfyUI under test (each one listed in report.blocked).

import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--proxy-server=http://127.0.0.1:9', // loopback bypasses the proxy (Chromium's default); nothing else can
];

/** A browser context and its page that can reach `args.url`'s origin and nothing else, and the profile folder to remove afterwards. */
export async function openLoopbackPage(args, report, profilePrefix) {
  const userData = fs.mkdtempSync(path.join(os.tmpdir(), profilePrefix));
  const context = await chromium.launchPersistentContext(userData, {
    executablePath: args.chromium, headless: true, args: CHROMIUM_FLAGS, viewport: { width: 1600, height: 1000 },
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(args.timeout);
  const origin = new URL(args.url).origin;
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith(`${origin}/`) || url === origin || url.startsWith('data:') || url.startsWith('blob:')) {
      return route.continue();
    }
    report.blocked.push(url.slice(0, 300));
    return route.abort('blockedbyclient');
  });
  return { context, page, userData };
}
