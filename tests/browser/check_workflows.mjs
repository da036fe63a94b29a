// Load every HiRes Studio editor workflow into the real ComfyUI front end (headless Chromium), check that
// the front end knows every node type and accepts every widget value, that its API conversion
// (app.graphToPrompt) equals the shipped API file, then queue one workflow from the editor and wait for its
// image in /history; then open the Templates browser on the pack's folder and read each card (title, picture),
// and read the editor's own view of the pack's nodes (category, output names, input labels).
// Nothing leaves loopback: every request the page makes to another host is aborted (and listed in the report),
// and Chromium's proxy for anything not on loopback is a closed loopback port.
//
// With --first-click NAMES (comma-separated), it does only this instead: load each named workflow as a user
// opens it, note the dialogs the load opens (the Missing Models dialog), queue it from the editor as it is, and
// record /prompt's answer and, when accepted, how the run ended (report.first_click). With --refusal
// NAME,NODE_TYPE,INPUT,VALUE besides, it then opens NAME, sets that widget to VALUE, Runs, and records the
// dialogs the editor shows (report.refusal).
//
// usage: node check_workflows.mjs --url http://127.0.0.1:PORT [--workflows DIR] [--api DIR]
//                                 [--queue NAME] [--module NAME] [--report FILE] [--chromium PATH]
//                                 [--first-click NAME,NAME... [--refusal NAME,NODE_TYPE,INPUT,VALUE]]
// Prints (and with --report writes) one JSON report; the exit status is 0 only when report.ok is true.

import fs from 'node:fs';
import path from 'node:path';
import { openLoopbackPage } from './loopback_page.mjs';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PACK = path.resolve(HERE, '..', '..');
const PACK_NODES = ['GenerativeUpscale', 'BicubicClean', 'AdapterSelect', 'HiResGenerate'];
// Console errors a fresh, offline front end always logs: a new user's missing settings files, and the
// registry look-ups the page's Content-Security-Policy blocks. Anything else during a load is a problem.
const BENIGN_CONSOLE = [
  /Failed to load resource: the server responded with a status of 404/,
  /violates the following Content Security Policy directive: "connect-src 'self'"/,
  /net::ERR_BLOCKED_BY_CLIENT/, // a request off loopback, aborted here (listed in report.blocked)
];
const BENIGN_404 = [/\/api\/userdata(\/|\?)/, /\/user\.css$/];

function parseArgs(argv) {
  const args = {
    workflows: path.join(PACK, 'workflows'), api: path.join(PACK, 'workflows', 'api'),
    queue: 'bicubic_clean_to_size', report: null, chromium: '/usr/bin/chromium', timeout: 240000, module: null,
    'first-click': null, refusal: null,
  };
  for (let i = 0; i < argv.length; i += 2) {
    const key = argv[i].replace(/^--/, '');
    if (!(key in args) && key !== 'url') throw new Error(`unknown option ${argv[i]}`);
    args[key] = key === 'timeout' ? Number(argv[i + 1]) : argv[i + 1];
  }
  if (!args.url) throw new Error('--url is required');
  args.url = args.url.replace(/\/$/, '');
  return args;
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function getJson(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: HTTP ${response.status}`);
  return response.json();
}

/** Width and height from a PNG's IHDR chunk. */
function pngSize(buffer) {
  const signature = '89504e470d0a1a0a';
  if (buffer.subarray(0, 8).toString('hex') !== signature) throw new Error('not a PNG');
  return { width: buffer.readUInt32BE(16), height: buffer.readUInt32BE(20) };
}

/** Deep equality where numbers compare with a tolerance (the front end writes 2 for 2.0). */
function same(a, b) {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a));
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => same(x, b[i]));
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].every((k) => same(a[k], b[k]));
  }
  return a === b;
}

/** Differences between the front end's API conversion and the shipped API file, as readable lines. */
function promptDiff(got, want) {
  const lines = [];
  for (const id of new Set([...Object.keys(got), ...Object.keys(want)])) {
    if (!(id in got)) { lines.push(`node ${id}: missing from graphToPrompt`); continue; }
    if (!(id in want)) { lines.push(`node ${id} (${got[id].class_type}): not in the API file`); continue; }
    if (got[id].class_type !== want[id].class_type) {
      lines.push(`node ${id}: class_type ${got[id].class_type} != ${want[id].class_type}`);
    }
    const names = new Set([...Object.keys(got[id].inputs), ...Object.keys(want[id].inputs)]);
    for (const name of names) {
      if (!same(got[id].inputs[name], want[id].inputs[name])) {
        lines.push(`node ${id} ${want[id].class_type}.${name}: editor gives ${JSON.stringify(got[id].inputs[name])}, `
          + `API file has ${JSON.stringify(want[id].inputs[name])}`);
      }
    }
    if (!same(got[id]._meta, want[id]._meta)) lines.push(`node ${id}: _meta ${JSON.stringify(got[id]._meta)}`);
  }
  return lines;
}

/** In the page: what the front end made of the loaded graph, compared with the file. */
function inspectGraph(file) {
  const problems = [];
  const registered = window.LiteGraph.registered_node_types;
  const nodes = window.app.graph.nodes;
  if (nodes.length !== file.nodes.length) problems.push(`${nodes.length} nodes loaded, the file has ${file.nodes.length}`);
  for (const saved of file.nodes) {
    const node = window.app.graph.getNodeById(saved.id);
    const label = `node ${saved.id} (${saved.type})`;
    if (!node) { problems.push(`${label}: not in the loaded graph`); continue; }
    if (!(node.type in registered)) problems.push(`${label}: the front end has no node type ${node.type}`);
    if (node.has_errors) problems.push(`${label}: flagged with errors`);
    const serialized = node.serialize();
    const values = serialized.widgets_values ?? [];
    const want = saved.widgets_values ?? [];
    const equal = values.length === want.length && values.every((v, i) => (typeof v === 'number' && typeof want[i] === 'number'
      ? Math.abs(v - want[i]) <= 1e-9 * Math.max(1, Math.abs(v)) : JSON.stringify(v) === JSON.stringify(want[i])));
    if (!equal) problems.push(`${label}: widgets_values became ${JSON.stringify(values)}, the file has ${JSON.stringify(want)}`);
    for (const widget of node.widgets ?? []) {
      const options = widget.options ?? {};
      if (widget.type === 'combo') {
        const choices = typeof options.values === 'function' ? options.values(widget, node) : options.values;
        if (Array.isArray(choices) && !choices.includes(widget.value)) {
          problems.push(`${label}: ${widget.name}=${JSON.stringify(widget.value)} is not one of its choices`);
        }
      } else if (widget.type === 'number' || widget.type === 'slider' || widget.type === 'knob') {
        if (typeof widget.value !== 'number' || Number.isNaN(widget.value)
            || (options.min !== undefined && widget.value < options.min)
            || (options.max !== undefined && widget.value > options.max)) {
          problems.push(`${label}: ${widget.name}=${widget.value} is outside ${options.min}..${options.max}`);
        }
      }
    }
    const min = node.computeSize();
    if (node.size[0] + 0.5 < min[0] || node.size[1] + 0.5 < min[1]) {
      problems.push(`${label}: size ${node.size.map(Math.round)} is smaller than its content ${min.map(Math.round)}`);
    }
  }
  const linkCount = window.app.graph.links instanceof Map ? window.app.graph.links.size
    : Object.keys(window.app.graph.links ?? {}).length;
  if (linkCount !== file.links.length) problems.push(`${linkCount} links loaded, the file has ${file.links.length}`);
  return problems;
}

function openDialogs() {
  return [...document.querySelectorAll('.p-dialog')].map((d) => d.innerText.trim().slice(0, 500));
}

async function closeDialogs(page) {
  for (let i = 0; i < 5 && (await page.evaluate(openDialogs)).length; i += 1) {
    await page.keyboard.press('Escape');
    await sleep(200);
    await page.evaluate(() => document.querySelectorAll('.p-dialog .p-dialog-close-button').forEach((b) => b.click()));
    await sleep(200);
  }
  return page.evaluate(openDialogs);
}

/** A fresh user's first visit opens the Templates browser; mark the tutorial as seen, as a user would. */
async function skipFirstRunDialog(url) {
  const response = await fetch(`${url}/settings/Comfy.TutorialCompleted`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: 'true',
  });
  if (!response.ok) throw new Error(`POST /settings/Comfy.TutorialCompleted: HTTP ${response.status}`);
}

/** In the page: how the editor shows the pack's nodes (from a fresh node of each type). */
function inspectNodes(types) {
  const out = {};
  for (const type of types) {
    const cls = window.LiteGraph.registered_node_types[type];
    const node = window.LiteGraph.createNode(type);
    if (!cls || !node) { out[type] = null; continue; }
    out[type] = {
      category: cls.category ?? node.category ?? null,
      outputs: (node.outputs ?? []).map((o) => o.label ?? o.localized_name ?? o.name),
      widget_labels: Object.fromEntries((node.widgets ?? []).map((w) => [w.name, w.label ?? w.name])),
      // The front end shows an input's tooltip from its node definition (the editor's hover text).
      input_tooltips: Object.fromEntries(Object.entries(cls.nodeData?.inputs ?? {})
        .map(([name, spec]) => [name, spec.tooltip ?? null])),
    };
    const typeWidget = node.widgets?.find((w) => w.name === 'adapter_type');
    if (typeWidget) {
      out[type].disabled_by_type = {};
      for (const value of typeWidget.options.values) {
        typeWidget.value = value;
        typeWidget.callback?.(value);
        out[type].disabled_by_type[value] = (node.widgets ?? []).filter((w) => w.disabled).map((w) => w.name).sort();
      }
    }
  }
  return out;
}

/** Open the Templates browser on one custom node folder and read every card: title, description, picture. */
async function inspectTemplates(page, module) {
  await page.evaluate(() => window.app.extensionManager.command.execute('Comfy.BrowseTemplates'));
  await page.waitForSelector('[data-testid^="template-workflow-"]', { timeout: 60000 });
  const navItem = page.locator('.workflow-template-selector-dialog').getByText(module, { exact: true }).first();
  await navItem.click();
  await sleep(1000);
  // Pictures load lazily while a card is in view (and unload after): read each card while it is in view. The
  // cards load their pictures into blob: URLs; the bytes' SHA-256 says which file each one shows.
  const ids = await page.evaluate(() => [...document.querySelectorAll('[data-testid^="template-workflow-"]')]
    .map((card) => card.dataset.testid));
  const cards = [];
  for (const testid of ids) {
    const card = page.locator(`[data-testid="${testid}"]`);
    await card.scrollIntoViewIfNeeded();
    await page.waitForFunction((id) => {
      const images = [...document.querySelectorAll(`[data-testid="${id}"] img`)];
      return images.length > 0 && images.every((img) => img.complete && img.naturalWidth > 0);
    }, testid, { timeout: 30000 }).catch(() => {});
    cards.push(await page.evaluate(async (id) => {
      const element = document.querySelector(`[data-testid="${id}"]`);
      const sha256 = async (url) => {
        const bytes = await (await fetch(url)).arrayBuffer();
        return [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))]
          .map((b) => b.toString(16).padStart(2, '0')).join('');
      };
      return {
        name: id.replace(/^template-workflow-/, ''),
        title: element.querySelector('h3')?.innerText.trim() ?? null,
        description: element.querySelector('p')?.innerText.trim() ?? null,
        images: await Promise.all([...element.querySelectorAll('img')].map(async (img) => ({
          src: img.currentSrc || img.src, width: img.naturalWidth, height: img.naturalHeight,
          sha256: await sha256(img.currentSrc || img.src),
        }))),
      };
    }, testid));
  }
  await closeDialogs(page);
  return cards;
}

/** Queue the graph loaded in the editor as a user's Run does; /prompt's answer and, if accepted, the run's end. */
async function queueLoaded(page, args, name) {
  const started = Date.now();
  const posted = page.waitForResponse((r) => r.request().method() === 'POST' && /\/prompt$/.test(r.url()));
  await page.evaluate(async () => { await window.app.queuePrompt(0, 1); });
  const response = await posted;
  const body = await response.json();
  const queued = { name, http_status: response.status(), prompt_id: body.prompt_id ?? null,
    node_errors: body.node_errors ?? null, error: body.error ?? null, images: [] };
  if (response.ok && body.prompt_id) {
    let entry = null;
    while (Date.now() - started < args.timeout) {
      entry = (await getJson(`${args.url}/history/${body.prompt_id}`))[body.prompt_id];
      if (entry?.status?.completed !== undefined && entry.status.status_str) break;
      await sleep(250);
    }
    queued.status = entry?.status?.status_str ?? 'timeout';
    queued.messages = (entry?.status?.messages ?? []).filter(([kind]) => kind === 'execution_error');
    queued.images.push(...(await savedImages(args, entry)));
  }
  queued.elapsed_ms = Date.now() - started;
  return queued;
}

/** A user's first click on each named workflow: open it, note the dialogs it opens, Run it. */
async function firstClicks(page, args, names) {
  const results = [];
  for (const name of names) {
    const graph = JSON.parse(fs.readFileSync(path.join(args.workflows, `${name}.json`), 'utf8'));
    await closeDialogs(page);
    await page.evaluate(async ([data, title]) => { await window.app.loadGraphData(data, true, true, title); },
      [graph, name]);
    await sleep(600);
    const dialogs = await page.evaluate(openDialogs);
    await closeDialogs(page);
    results.push({ ...(await queueLoaded(page, args, name)), dialogs_on_load: dialogs });
    await closeDialogs(page);
  }
  return results;
}

/** Open a workflow, set one widget to a value the node refuses, Run it: the dialogs the editor shows. */
async function refusalDialogs(page, args, spec) {
  const [name, type, input, value] = spec.split(',');
  const graph = JSON.parse(fs.readFileSync(path.join(args.workflows, `${name}.json`), 'utf8'));
  await closeDialogs(page);
  await page.evaluate(async ([data, title]) => { await window.app.loadGraphData(data, true, true, title); },
    [graph, name]);
  await sleep(600);
  await closeDialogs(page);
  await page.evaluate(([nodeType, widgetName, widgetValue]) => {
    const node = window.app.graph.nodes.find((n) => n.type === nodeType);
    node.widgets.find((w) => w.name === widgetName).value = widgetValue;
  }, [type, input, value]);
  const posted = page.waitForResponse((r) => r.request().method() === 'POST' && /\/prompt$/.test(r.url()));
  await page.evaluate(async () => { await window.app.queuePrompt(0, 1); });
  const response = await posted;
  await sleep(1500);
  const result = { name, http_status: response.status(), node_errors: (await response.json()).node_errors ?? null,
    dialogs: await page.evaluate(openDialogs),
    // The nodes the editor marks red: the ids in its last node_errors, as node types.
    marked: await page.evaluate(() => Object.keys(window.app.lastNodeErrors ?? {})
      .map((id) => window.app.graph.getNodeById(id)?.type ?? `missing node ${id}`)) };
  await closeDialogs(page);
  return result;
}

// The images a finished prompt's history entry lists, each fetched through /view: its size and HTTP status.
async function savedImages(args, entry) {
  const images = [];
  for (const output of Object.values(entry?.outputs ?? {})) {
    for (const image of output.images ?? []) {
      const query = new URLSearchParams({ filename: image.filename, subfolder: image.subfolder, type: image.type });
      const view = await fetch(`${args.url}/view?${query}`);
      const bytes = Buffer.from(await view.arrayBuffer());
      images.push({ ...image, http_status: view.status, bytes: bytes.length, ...pngSize(bytes) });
    }
  }
  return images;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const report = { ok: false, url: args.url, workflows: [], startup: {}, queued: null, errors: [], blocked: [],
    nodes: null, templates: null };
  const files = fs.readdirSync(args.workflows).filter((f) => f.endsWith('.json')).sort();
  const { context, page, userData } = await openLoopbackPage(args, report, 'hires-chromium-');
  try {
    let consoleLog = [];
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleLog.push({ kind: 'console', text: msg.text().slice(0, 1000) });
    });
    page.on('pageerror', (error) => consoleLog.push({ kind: 'pageerror', text: String(error.message).slice(0, 1000) }));
    page.on('dialog', async (dialog) => {
      consoleLog.push({ kind: 'dialog', text: dialog.message() });
      await dialog.dismiss();
    });
    page.on('response', (response) => {
      if (response.status() >= 400 && !BENIGN_404.some((re) => re.test(response.url()))) {
        consoleLog.push({ kind: 'http', text: `${response.status()} ${response.url()}` });
      }
    });

    await skipFirstRunDialog(args.url);
    await page.goto(`${args.url}/`, { waitUntil: 'domcontentloaded' });
    await page.waitForFunction(() => window.app?.graph && window.LiteGraph?.registered_node_types
      && Object.keys(window.LiteGraph.registered_node_types).length > 0 && window.app.canvas);
    await sleep(500);
    report.startup = {
      ready_ms: Date.now() - started,
      node_types: await page.evaluate(() => Object.keys(window.LiteGraph.registered_node_types).length),
      // Logged by the front end itself before any workflow is loaded: reported, not failed on.
      console: consoleLog,
    };
    consoleLog = [];
    report.startup.dialogs_left_open = await closeDialogs(page);

    allChecks: {
    if (args['first-click']) {
      report.first_click = await firstClicks(page, args, args['first-click'].split(',').filter(Boolean));
      if (args.refusal) report.refusal = await refusalDialogs(page, args, args.refusal);
      break allChecks;
    }

    for (const file of files) {
      const name = file.replace(/\.json$/, '');
      const graph = JSON.parse(fs.readFileSync(path.join(args.workflows, file), 'utf8'));
      const entry = { name, nodes: graph.nodes.length, problems: [], dialogs: [], console: [] };
      const openBefore = new Set(await page.evaluate(openDialogs));
      consoleLog = [];
      await page.evaluate(async ([data, title]) => {
        await window.app.loadGraphData(data, true, true, title);
      }, [graph, name]);
      await sleep(400);
      entry.dialogs = (await page.evaluate(openDialogs)).filter((d) => !openBefore.has(d));
      entry.problems.push(...(await page.evaluate(inspectGraph, graph)));
      const converted = await page.evaluate(async () => (await window.app.graphToPrompt()).output);
      const apiPath = path.join(args.api, file);
      if (fs.existsSync(apiPath)) {
        entry.prompt_diff = promptDiff(converted, JSON.parse(fs.readFileSync(apiPath, 'utf8')));
        entry.problems.push(...entry.prompt_diff);
      } else {
        entry.problems.push(`no API file ${apiPath}`);
      }
      entry.console = consoleLog.filter((c) => !(c.kind === 'console' && BENIGN_CONSOLE.some((re) => re.test(c.text))));
      entry.problems.push(...entry.dialogs.map((d) => `dialog: ${d}`));
      entry.problems.push(...entry.console.map((c) => `${c.kind}: ${c.text}`));
      entry.ok = entry.problems.length === 0;
      report.workflows.push(entry);
      await closeDialogs(page);
    }

    report.nodes = await page.evaluate(inspectNodes, PACK_NODES);
    if (args.module) report.templates = await inspectTemplates(page, args.module);

    if (args.queue) {
      const file = `${args.queue}.json`;
      const graph = JSON.parse(fs.readFileSync(path.join(args.workflows, file), 'utf8'));
      const queueStarted = Date.now();
      await page.evaluate(async (data) => { await window.app.loadGraphData(data, true, true, 'queued'); }, graph);
      const posted = page.waitForResponse((r) => r.request().method() === 'POST' && /\/prompt$/.test(r.url()));
      await page.evaluate(async () => { await window.app.queuePrompt(0, 1); });
      const response = await posted;
      const body = await response.json();
      const queued = { name: args.queue, http_status: response.status(), prompt_id: body.prompt_id ?? null,
        node_errors: body.node_errors ?? null, error: body.error ?? null, images: [] };
      report.queued = queued;
      if (response.ok && body.prompt_id) {
        let entry = null;
        while (Date.now() - queueStarted < args.timeout) {
          entry = (await getJson(`${args.url}/history/${body.prompt_id}`))[body.prompt_id];
          if (entry?.status?.completed !== undefined && entry.status.status_str) break;
          await sleep(250);
        }
        queued.status = entry?.status?.status_str ?? 'timeout';
        queued.images.push(...(await savedImages(args, entry)));
      }
      queued.elapsed_ms = Date.now() - queueStarted;
      queued.ok = queued.status === 'success' && queued.images.length > 0;
    }
    } // allChecks
  } catch (error) {
    report.errors.push(String(error?.stack ?? error));
  } finally {
    await context.close();
    fs.rmSync(userData, { recursive: true, force: true });
  }
  report.elapsed_ms = Date.now() - started;
  report.ok = report.first_click ? report.errors.length === 0 && report.first_click.length > 0
    : report.errors.length === 0 && report.workflows.length > 0 && report.workflows.every((w) => w.ok)
      && (report.queued?.ok ?? true);
  const text = JSON.stringify(report, null, 2);
  if (args.report) fs.writeFileSync(args.report, `${text}\n`);
  process.stdout.write(`${text}\n`);
  process.exitCode = report.ok ? 0 : 1;
}

await main();
