// AdapterSelect greys out the inputs its chosen adapter_type does not use: face_id is for `face` only,
// controlnet_conditioning_scale for `control` and `control2` only. (The labels say so too: locales/en/nodeDefs.json.)
import { app } from '../../scripts/app.js';

const USED_BY = {
  face_id: ['face'],
  controlnet_conditioning_scale: ['control', 'control2'],
};

function greyUnused(node) {
  const type = node.widgets?.find((widget) => widget.name === 'adapter_type')?.value;
  for (const widget of node.widgets ?? []) {
    if (widget.name in USED_BY) widget.disabled = !USED_BY[widget.name].includes(type);
  }
  node.setDirtyCanvas?.(true, true);
}

app.registerExtension({
  name: 'HiResStudio.AdapterInputs',
  nodeCreated(node) {
    if (node.comfyClass !== 'AdapterSelect') return;
    const typeWidget = node.widgets?.find((widget) => widget.name === 'adapter_type');
    if (!typeWidget) return;
    const chosen = typeWidget.callback;
    typeWidget.callback = function onAdapterType(...args) {
      const result = chosen?.apply(this, args);
      greyUnused(node);
      return result;
    };
    const configure = node.onConfigure;
    node.onConfigure = function onConfigure(...args) {
      const result = configure?.apply(this, args);
      greyUnused(node);
      return result;
    };
    greyUnused(node);
  },
});
