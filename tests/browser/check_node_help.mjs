// Open the editor's node help panel for each HiRes Studio node in the real ComfyUI front end (headless
// Chromium) and read what it shows: the panel fetches the pack's web/docs/<NodeId>.md (or a locale's
// web/docs/<NodeId>/<locale>.md) from the server and renders it. The panel is opened as a user does it: the node
// on the canvas, selected, and the selection toolbox's info button pressed.
// Nothing leaves loopback: every request the page makes to another host is aborted.
//
// usage: node check_node_help.mjs --url http://127.0.0.1:PORT [--report FILE] [--chromium PATH]
// Prints (and with --report writes) one JSON report: per node, the panel's headings, its text and the doc
// URLs the page fetched with their HTTP status.

import fs from 'node:fs';
import path from 'node:path';
import { openLoopbackPage } from './loopback_page.mjs';

const PACK_NODES = ['GenerativeUpscale', 'BicubicClean', 'AdapterSelect', 'HiResGenerate'];
// Each page's first heading (web/docs/<NodeId>.md): the panel shows it once the page has loaded.
const TITLES = { GenerativeUpscale: 'Generative Upscale', BicubicClean: 'Bicubic Clean', AdapterSelect: 'Adapter Select',
  HiResGenerate: 'HiRes Generate' };

function parseArgs(argv) {
  const args = { url: null, report: null, chromium: '/usr/bin/chromium', timeout: 120000 };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in args)) throw new Error(`unknown option ${argv[i]}`);
    args[key] = key === 'timeout' ? Number(argv[i + 1]) : argv[i + 1];
  }
  if (!args.url) throw new Error('--url is required');
  args.url = args.url.replace(/\/$/, '');
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const report = { ok: false, url: args.url, nodes: {}, errors: [], blocked: [] };
  const { context, page, userData } = await openLoopbackPage(args, report, 'hires-chromium-help-');
  try {
    const docFetches = [];
    page.on('response', (response) => {
      if (/\/docs\//.test(response.url())) docFetches.push({ url: response.url(), status: response.status() });
    });
    // A fresh user's first visit opens the Templates browser; mark the tutorial as seen, as a user would.
    const seen = await fetch(`${args.url}/settings/Comfy.TutorialCompleted`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: 'true',
    });
    if (!seen.ok) throw new Error(`POST /settings/Comfy.TutorialCompleted: HTTP ${seen.status}`);
    await page.goto(`${args.url}/`, { waitUntil: 'domcontentloaded' });
    await page.waitForFunction(() => window.app?.graph && window.app.canvas && window.app.extensionManager);
    for (const name of PACK_NODES) {
      docFetches.length = 0;
      // As a user does it: put the node on the canvas, select it, press the selection toolbox's info button.
      await page.evaluate((type) => {
        window.app.graph.clear();
        const node = window.LiteGraph.createNode(type);
        node.pos = [900, 300]; // right of the sidebar, where the help panel opens
        window.app.graph.add(node);
        window.app.canvas.selectNode(node);
        window.app.canvas.setDirty(true, true);
      }, name);
      await page.locator('[data-testid="info-button"]').first().click();
      await page.waitForFunction((title) => {
        const panel = document.querySelector('.node-help-content');
        return panel && panel.innerText.includes(title);
      }, TITLES[name]);
      report.nodes[name] = await page.evaluate(() => {
        const panel = document.querySelector('.node-help-content');
        return {
          headings: [...panel.querySelectorAll('h1, h2, h3')].map((h) => h.innerText.trim()),
          tables: panel.querySelectorAll('table').length,
          text: panel.innerText.slice(0, 20000),
        };
      });
      report.nodes[name].fetched = [...docFetches];
    }
  } catch (error) {
    report.errors.push(String(error?.stack ?? error));
  } finally {
    await context.close();
    fs.rmSync(userData, { recursive: true, force: true });
  }
  report.ok = report.errors.length === 0 && PACK_NODES.every((name) => report.nodes[name]);
  const text = JSON.stringify(report, null, 2);
  if (args.report) fs.writeFileSync(args.report, `${text}\n`);
  process.stdout.write(`${text}\n`);
  process.exitCode = report.ok ? 0 : 1;
}

await main();
