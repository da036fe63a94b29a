"""Conditioning for the generators: the adapter's prompt encoded with a CLIP, and ControlNets applied the
way core's ControlNetApplyAdvanced does. Conditioning is always copied, never changed in place."""

from __future__ import annotations

import torch

from ..core.adapter import Adapter, build_prompt
from ..core.errors import HiResInputError


def encode_text(clip, text: str) -> list:
    return clip.encode_from_tokens_scheduled(clip.tokenize(text))


def adapter_conditioning(adapter: Adapter | None, clip, node: str) -> tuple[list, list]:
    """(positive, negative): the adapter's ready conditioning, or its prompts encoded with the adapter's CLIP
    (else `clip`). With no adapter, the default prompt (deep-image's quality suffix) and an empty negative."""
    encoder = clip if adapter is None or adapter.clip is None else adapter.clip
    if encoder is None and (adapter is None or adapter.needs_clip):
        raise HiResInputError(
            "clip", None, f"{node} needs a prompt encoded by a CLIP: neither an AdapterSelect with a CLIP or "
            "CONDITIONING nor a CLIP is connected", f"connect the checkpoint's CLIP to {node} or to AdapterSelect",
        )
    if adapter is None:
        return encode_text(encoder, build_prompt("", True)), encode_text(encoder, "")
    positive = adapter.positive if adapter.positive is not None else encode_text(encoder, adapter.prompt)
    negative = adapter.negative if adapter.negative is not None else encode_text(encoder, adapter.negative_prompt)
    return positive, negative


def apply_controlnet(positive: list, negative: list, control_net, hint: torch.Tensor, strength: float,
                     vae=None) -> tuple[list, list]:
    """Attach `control_net` with a BCHW hint to copies of both conditionings (chained after any ControlNet
    they already carry), as ControlNetApplyAdvanced does."""
    if strength == 0:
        return positive, negative
    made: dict[int, object] = {}
    out = []
    for conditioning in (positive, negative):
        copied = []
        for embedding, values in conditioning:
            values = values.copy()
            previous = values.get("control", None)
            key = id(previous)
            if key not in made:
                c_net = control_net.copy().set_cond_hint(hint, strength, (0.0, 1.0), vae=vae)
                c_net.set_previous_controlnet(previous)
                made[key] = c_net
            values["control"] = made[key]
            values["control_apply_to_uncond"] = False
            copied.append([embedding, values])
        out.append(copied)
    return out[0], out[1]
