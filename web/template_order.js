// HiRes Studio's cards in the Templates browser in the pack's order: upscaling, then generation, then adapters.
// ComfyUI 0.3.75 lists a custom node's templates in the order its server happens to find the files; this puts the
// pack's own list (web/template_order.json, written by scripts/workflows.py) in its order, whatever folder name
// the pack was cloned under. Nothing else is touched.
import { api } from '../../scripts/api.js';

const ORDER_URL = new URL('./template_order.json', import.meta.url);

async function loadOrder() {
  try {
    const response = await fetch(ORDER_URL);
    return response.ok ? await response.json() : [];
  } catch {
    return [];
  }
}

const rank = new Map((await loadOrder()).map((name, index) => [name, index]));
const listTemplates = api.getWorkflowTemplates.bind(api);

api.getWorkflowTemplates = async () => {
  const templates = await listTemplates();
  for (const [folder, names] of Object.entries(templates)) {
    if (names.length > 0 && names.every((name) => rank.has(name))) {
      templates[folder] = [...names].sort((a, b) => rank.get(a) - rank.get(b));
    }
  }
  return templates;
};
