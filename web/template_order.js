// HiRes Studio's cards in the Templates browser: in the pack's order (upscaling, then generation, then adapters),
// with their own titles and descriptions, whatever folder name the pack was cloned under.
//
// ComfyUI lists a custom node's templates as bare file names, in the order its server happens to find the files,
// and the front end (1.32) makes each card's title and description from the file name. The front end also reads
// the core templates' index, where a template has a title and a description; a category there whose moduleName is
// the pack's folder is loaded from the pack's folder (pictures and workflows) like a custom node's templates. So
// this extension moves the pack's templates from the bare list into such a category, in the pack's order
// (web/template_order.json) with the pack's texts (web/template_cards.json; both written by scripts/workflows.py).
// Where a front end has no core index to add to, or the texts cannot be read, the bare list stays, in order.
import { api } from '../../scripts/api.js';

const ORDER_URL = new URL('./template_order.json', import.meta.url);
const CARDS_URL = new URL('./template_cards.json', import.meta.url);
const CATEGORY_TITLE = 'HiRes Studio';

async function loadJson(url, fallback) {
  try {
    const response = await fetch(url);
    return response.ok ? await response.json() : fallback;
  } catch {
    return fallback;
  }
}

const [order, cards] = await Promise.all([loadJson(ORDER_URL, []), loadJson(CARDS_URL, {})]);
const rank = new Map(order.map((name, index) => [name, index]));
const isOurs = (names) => names.length > 0 && names.every((name) => rank.has(name));
const canDescribe = typeof api.getCoreWorkflowTemplates === 'function' && Object.keys(cards).length > 0;
let ourFolder = null; // the pack's folder as the server names it, found in the bare list
let ourNames = [];

const listTemplates = api.getWorkflowTemplates.bind(api);
api.getWorkflowTemplates = async () => {
  const templates = await listTemplates();
  for (const [folder, names] of Object.entries(templates)) {
    if (!isOurs(names)) continue;
    ourFolder = folder;
    ourNames = [...names].sort((a, b) => rank.get(a) - rank.get(b));
    if (canDescribe) delete templates[folder]; // shown once, with its texts, from the category below
    else templates[folder] = ourNames;
  }
  return templates;
};

function ourCategory() {
  return {
    moduleName: ourFolder,
    title: CATEGORY_TITLE,
    type: 'image',
    templates: ourNames.map((name) => ({
      name,
      title: cards[name]?.title ?? name,
      description: cards[name]?.description ?? name,
      mediaType: 'image',
      mediaSubtype: 'jpg',
    })),
  };
}

if (canDescribe) {
  const coreTemplates = api.getCoreWorkflowTemplates.bind(api);
  api.getCoreWorkflowTemplates = async (...args) => {
    const categories = await coreTemplates(...args);
    if (ourFolder === null || !Array.isArray(categories)) return categories;
    return [...categories, ourCategory()];
  };
}
