"""Bad input and Cancel inside a real ComfyUI: what can be refused without the models is refused before the
checkpoint loader runs; Cancel lands within 2 s in the upscale-model, cleanup and diffusion phases; out of
memory at the smallest tile says what to lower."""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import Callable

import pytest
import torch

from hires_studio.devtools.comfy_host import pack_module
from hires_studio.devtools.node_inputs import ADAPTER, GENERATIVE_UPSCALE, HIRES_GENERATE

pytestmark = pytest.mark.comfy
log = logging.getLogger(__name__)

CANCEL_WITHIN_S = 2.0
"""The project's bound from the interrupt to the exception, in every phase."""
INTERRUPT_AFTER_S = 0.5
"""How long a phase runs before the test interrupts it (it is then in the middle of a model call)."""
SLOW_CALL_S = 30.0
"""How long one model call of the diffusion-phase test runs unless Cancel stops it inside."""
GU = GENERATIVE_UPSCALE
HG = HIRES_GENERATE
CKPT = {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "tiny_sd15.safetensors"}}


def error_message(run) -> str:
    assert not run.success
    return run.error()["exception_message"]


def image_node(width: int, height: int, color: int = 0x808080) -> dict:
    return {"class_type": "EmptyImage", "inputs": {"width": width, "height": height, "batch_size": 1, "color": color}}


# --- one refusal, one entry in /prompt's node_errors ---------------------------------------------------------

UPSCALER = {"class_type": "UpscaleModelLoader", "inputs": {"model_name": "tiny_compact.safetensors"}}


def refusal_graph(node: str, change: dict, unlink: tuple[str, ...] = ()) -> dict:
    """A valid graph of `node` (previewed by "9") with `change` applied to node "5" and `unlink` links removed."""
    if node == "BicubicClean":
        inputs = {"image": ["1", 0], "width": 128, "height": 0, "fit": "canvas", "scale_by": 2.0, "cleanup": "auto"}
    elif node == "HiResGenerate":
        inputs = {**HG, "model": ["2", 0], "vae": ["2", 2], "clip": ["2", 1], "adapter": ["3", 0]}
    else:
        inputs = {**GU, "image": ["1", 0], "model": ["2", 0], "vae": ["2", 2], "clip": ["2", 1],
                  "upscale_model": ["4", 0], "adapter": ["3", 0]}
    prompt = {"1": image_node(64, 48), "2": CKPT, "4": UPSCALER,
              "3": {"class_type": "AdapterSelect", "inputs": {**ADAPTER, "adapter_type": "upscale", "clip": ["2", 1]}},
              "5": {"class_type": node, "inputs": inputs}, "9": {"class_type": "PreviewImage",
                                                               "inputs": {"images": ["5", 0]}}}
    target = "3" if node == "AdapterSelect" else "5"
    if node == "AdapterSelect":
        prompt["5"] = {"class_type": "GenerativeUpscale", "inputs": {**GU, "image": ["1", 0], "model": ["2", 0],
                                                                     "vae": ["2", 2], "adapter": ["3", 0]}}
    prompt[target]["inputs"].update(change)
    for name in unlink:
        del prompt[target]["inputs"][name]
    return prompt


# (kind of refusal, node, change, links removed, the node it is filed on, what the one entry starts with)
REFUSAL_KINDS = [
    ("dropdown", "GenerativeUpscale", {"sampler_name": "nope"}, (), "5", "sampler_name='nope': is not one of"),
    ("not finite", "GenerativeUpscale", {"cfg": math.nan}, (), "5", "cfg=nan: is not a finite number"),
    ("range", "GenerativeUpscale", {"denoise_override": 2.0}, (), "5", "denoise_override=2.0: is outside 0 to 1"),
    ("size rules", "GenerativeUpscale", {"size_rules": "stability-v1", "width": 1024, "height": 1024}, (), "5",
     "height=1024: Only one of width or height"),
    ("padding", "GenerativeUpscale", {"padding": "lots"}, (), "5", "padding='lots'"),
    ("strength needs an upscaler", "GenerativeUpscale", {"upscale_strength": 4}, ("upscale_model",), "5",
     "upscale_model=None: upscale_strength 4 takes the upscale_4 base path"),
    ("diffusion needs a VAE", "GenerativeUpscale", {}, ("vae",), "5", "vae=None: upscale_strength 5 runs a "
     "diffusion pass"),
    ("no prompt encoder", "HiResGenerate", {}, ("clip", "adapter"), "5", "clip=None: HiResGenerate needs a prompt"),
    ("batch size", "HiResGenerate", {"num_images": 9}, (), "5", "num_images=9: must be from 1 to 8"),
    ("no outpaint model", "BicubicClean", {"canvas_fill": "outpaint"}, (), "5", "canvas_fill='outpaint'"),
    ("cleanup level", "BicubicClean", {"cleanup": "harsh"}, (), "5", "cleanup='harsh': is not one of"),
    ("adapter text", "AdapterSelect", {"description": "a \ud83d cottage"}, (), "3",
     "description='...a \\ud83d': has an unpaired surrogate"),
    ("adapter link", "AdapterSelect", {"adapter_type": "face"}, (), "3", "image=None: adapter_type 'face' needs"),
]


@pytest.mark.parametrize(("kind", "node", "change", "unlink", "filed_on", "starts"), REFUSAL_KINDS,
                         ids=[k[0] for k in REFUSAL_KINDS])
def test_each_refusal_is_one_entry_in_node_errors(comfy, kind, node, change, unlink, filed_on, starts):
    """ComfyUI files a message validate_inputs returns once under every input the function takes (18 entries
    on GenerativeUpscale); the pack raises it instead, which ComfyUI files once, on the node at fault: its own
    id and class_type (what the editor marks red), not the node it feeds."""
    valid, _, _, node_errors = comfy.validate(refusal_graph(node, change, unlink))
    assert not valid
    entries = [(node_id, entry["class_type"], e["details"]) for node_id, entry in node_errors.items()
               for e in entry["errors"]]
    assert len(entries) == 1, entries
    (node_id, class_type, message), = entries
    assert (node_id, class_type) == (filed_on, node), entries
    assert message.startswith(starts) and "Fix: " in message, entries


@pytest.mark.parametrize(("kind", "node", "change", "unlink", "filed_on", "starts"), REFUSAL_KINDS,
                         ids=[k[0] for k in REFUSAL_KINDS])
def test_rest_reports_a_refusal_as_the_node_at_fault_and_its_message(comfy, kind, node, change, unlink, filed_on,
                                                                      starts):
    """A REST job's graph refused at validation: the message is the node's class and the refusal itself, without
    ComfyUI's generic "Exception when validating inner node" between them; nothing is queued."""
    comfy_queue = pack_module(comfy, "rest.comfy_queue")  # the pack as ComfyUI loaded it
    with pytest.raises(comfy_queue.GraphRefused) as refused:
        asyncio.run(comfy_queue.submit(None, refusal_graph(node, change, unlink), "job"))
    assert str(refused.value).startswith(f"{node}: {starts}"), str(refused.value)


def test_the_refusal_graphs_are_valid_unchanged(comfy):
    for node in ("GenerativeUpscale", "HiResGenerate", "BicubicClean", "AdapterSelect"):
        valid, error, _, node_errors = comfy.validate(refusal_graph(node, {}))
        assert valid, (node, error, node_errors)


# --- refused before the checkpoint loader runs ---------------------------------------------------------------


def test_no_face_fails_before_the_checkpoint_loads_or_the_prompt_is_encoded(comfy):
    prompt = {
        "1": image_node(96, 96),
        "2": CKPT,
        "3": {"class_type": "AdapterSelect", "inputs": {**ADAPTER, "adapter_type": "face", "image": ["1", 0],
                                                        "clip": ["2", 1]}},
        "4": {"class_type": "HiResGenerate", "inputs": {**HG, "model": ["2", 0], "vae": ["2", 2], "clip": ["2", 1],
                                                        "adapter": ["3", 0]}},
        "5": {"class_type": "PreviewImage", "inputs": {"images": ["4", 0]}},
    }
    run = comfy.run(prompt)
    assert error_message(run).startswith("image='96x96': no face was found in the image. Fix:")
    assert run.error()["node_type"] == "AdapterSelect"
    assert run.executor.caches.outputs.get("2") is None, "the checkpoint loader ran before the face check"


@pytest.fixture(scope="module")
def face_photo(comfy) -> str:
    """A real photo with a face in ComfyUI's input folder (AdapterSelect's face check must pass)."""
    from PIL import Image

    from hires_studio.bench.photos import load_photos

    name = "bad_input_face.png"
    Image.fromarray(dict(load_photos())["astronaut"]).resize((256, 256)).save(comfy.base / "input" / name)
    return name


@pytest.mark.parametrize(
    ("case", "fragment"),
    [
        ("face adapter", "adapter='face': GenerativeUpscale cannot use adapter_type 'face'"),
        ("mask size", "mask='10x10': the mask must be the image's size (64x48)"),
        ("adapter without clip", "clip=None: GenerativeUpscale needs a prompt encoded by a CLIP"),
    ],
)
def test_generative_upscale_refuses_before_the_checkpoint_loads(comfy, face_photo, case, fragment):
    gu_inputs = {**GU, "image": ["1", 0], "model": ["2", 0], "vae": ["2", 2], "clip": ["2", 1]}
    prompt = {"1": image_node(64, 48), "2": CKPT, "6": {"class_type": "PreviewImage", "inputs": {"images": ["5", 0]}}}
    if case == "face adapter":
        prompt["7"] = {"class_type": "LoadImage", "inputs": {"image": face_photo}}
        prompt["3"] = {"class_type": "AdapterSelect", "inputs": {**ADAPTER, "adapter_type": "face", "image": ["7", 0]}}
        gu_inputs["adapter"] = ["3", 0]
    elif case == "mask size":
        prompt["3"] = {"class_type": "SolidMask", "inputs": {"value": 1.0, "width": 10, "height": 10}}
        gu_inputs["mask"] = ["3", 0]
    else:
        prompt["3"] = {"class_type": "AdapterSelect", "inputs": {**ADAPTER, "adapter_type": "upscale"}}
        gu_inputs["adapter"] = ["3", 0]
        del gu_inputs["clip"]
    prompt["5"] = {"class_type": "GenerativeUpscale", "inputs": gu_inputs}
    run = comfy.run(prompt)
    assert fragment in error_message(run), error_message(run)
    assert run.error()["node_type"] == "GenerativeUpscale"
    assert run.executor.caches.outputs.get("2") is None, "the checkpoint loader ran before the check"


def test_control_without_an_image_is_refused_before_the_checkpoint_loads(comfy):
    prompt = {
        "1": CKPT,
        "2": {"class_type": "ControlNetLoader", "inputs": {"control_net_name": "tiny_controlnet.safetensors"}},
        "3": {"class_type": "AdapterSelect", "inputs": {**ADAPTER, "adapter_type": "control",
                                                        "control_net": ["2", 0]}},
        "4": {"class_type": "HiResGenerate", "inputs": {**HG, "model": ["1", 0], "vae": ["1", 2], "clip": ["1", 1],
                                                        "adapter": ["3", 0]}},
        "5": {"class_type": "PreviewImage", "inputs": {"images": ["4", 0]}},
    }
    run = comfy.run(prompt)
    message = error_message(run)
    assert message.startswith("image=None: adapter_type 'control' on HiResGenerate is image to image"), message
    assert "the ControlNet would be ignored" in message and "Fix:" in message
    assert run.executor.caches.outputs.get("1") is None, "the checkpoint loader ran before the check"


# --- Cancel within 2 s in every phase ----------------------------------------------------------------------


class Interrupter:
    """Interrupts ComfyUI INTERRUPT_AFTER_S after `started` is set (from inside the phase), and keeps the time."""

    def __init__(self) -> None:
        import comfy.model_management as mm

        self.started = threading.Event()
        self.at: float | None = None
        self._mm = mm
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        if self.started.wait(600):
            time.sleep(INTERRUPT_AFTER_S)
            self.at = time.monotonic()
            self._mm.interrupt_current_processing(True)

    def latency(self, ended: float) -> float:
        self._thread.join(5)
        assert self.at is not None, "the phase never started"
        return ended - self.at


def starts(interrupter: Interrupter, function: Callable) -> Callable:
    def wrapped(*args, **kwargs):
        interrupter.started.set()
        return function(*args, **kwargs)

    return wrapped


def interrupted(run) -> bool:
    return not run.success and any(kind == "execution_interrupted" for kind, _ in run.messages)


def test_cancel_in_the_upscale_model_phase(comfy, monkeypatch):
    """Strength 7 with the real Real-ESRGAN x4plus on a 512 px image: one 512 px tile ran 53.6 s on this CPU
    with the check only between tiles."""
    module = pack_module(comfy, "runtime.upscale_model")
    interrupter = Interrupter()
    real = module._interruptible
    monkeypatch.setattr(module, "_interruptible", lambda upscale_model: starts(interrupter, real(upscale_model)))
    prompt = {
        "1": image_node(512, 512, 0x3366CC),
        "2": {"class_type": "UpscaleModelLoader", "inputs": {"model_name": "RealESRGAN_x4plus.safetensors"}},
        "3": {"class_type": "GenerativeUpscale", "inputs": {**GU, "image": ["1", 0], "upscale_strength": 7,
                                                            "width": 2048, "upscale_model": ["2", 0]}},
        "4": {"class_type": "PreviewImage", "inputs": {"images": ["3", 0]}},
    }
    run = comfy.run(prompt)
    latency = interrupter.latency(time.monotonic())
    assert interrupted(run)
    log.info("Cancel in the upscale-model phase took %.3f s", latency)
    assert latency < CANCEL_WITHIN_S, f"Cancel took {latency:.2f} s in the upscale-model phase"
    monkeypatch.undo()
    small = {**prompt, "1": image_node(24, 16), "3": {**prompt["3"], "inputs": {**prompt["3"]["inputs"], "width": 40}}}
    small["2"] = {"class_type": "UpscaleModelLoader", "inputs": {"model_name": "tiny_compact.safetensors"}}
    next_run = comfy.run(small)
    assert next_run.success and next_run.output("3").shape == (1, 27, 40, 3)


def test_cancel_in_the_cleanup_phase(comfy, monkeypatch):
    module = pack_module(comfy, "runtime.cleanup_model")
    interrupter = Interrupter()
    monkeypatch.setattr(module, "clean", starts(interrupter, module.clean))
    prompt = {
        "1": image_node(1536, 1536, 0x3366CC),
        "2": {"class_type": "BicubicClean", "inputs": {"image": ["1", 0], "width": 0, "height": 0, "fit": "canvas",
                                                       "scale_by": 1.0, "cleanup": "strongest"}},
        "3": {"class_type": "PreviewImage", "inputs": {"images": ["2", 0]}},
    }
    run = comfy.run(prompt)
    latency = interrupter.latency(time.monotonic())
    assert interrupted(run)
    log.info("Cancel in the cleanup phase took %.3f s", latency)
    assert latency < CANCEL_WITHIN_S, f"Cancel took {latency:.2f} s in the cleanup phase"
    monkeypatch.undo()
    small = {**prompt, "1": image_node(40, 30)}
    assert comfy.run(small).success


def test_cancel_in_the_diffusion_phase(comfy, ckpt):
    """One model evaluation that runs for a long time (a full-size UNet on a CPU takes seconds per tile; here
    the tiny UNet evaluated many times over inside one call): Cancel lands inside it, not after it (ComfyUI's
    own layers check the flag)."""
    import comfy.model_management as mm

    model, clip, vae = ckpt
    interrupter = Interrupter()

    def slow_model(apply_model, args):
        """One model call of SLOW_CALL_S, made of many real UNet evaluations."""
        interrupter.started.set()
        ends = time.monotonic() + SLOW_CALL_S
        out = apply_model(args["input"], args["timestep"], **args["c"])
        while time.monotonic() < ends:
            out = apply_model(args["input"], args["timestep"], **args["c"])
        return out

    slow = model.clone()
    slow.set_model_unet_function_wrapper(slow_model)
    image = torch.rand(1, 48, 64, 3)
    node = comfy.node("GenerativeUpscale")
    with torch.inference_mode(), pytest.raises(mm.InterruptProcessingException):
        node.execute(image=image, model=slow, vae=vae, clip=clip, **GU)
    latency = interrupter.latency(time.monotonic())
    log.info("Cancel in the diffusion phase took %.3f s", latency)
    assert latency < CANCEL_WITHIN_S, f"Cancel took {latency:.2f} s in the diffusion phase"
    with torch.inference_mode():
        out = node.execute(image=image, model=model, vae=vae, clip=clip, **{**GU, "steps": 1})[0]
    assert out.shape == (1, 96, 128, 3)


def test_interrupt_checks_stop_a_plain_torch_model_and_leave_no_hook(comfy):
    import comfy.model_management as mm

    checks = pack_module(comfy, "runtime.interrupts")
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Conv2d(4, 3, 1)))
    x = torch.rand(1, 3, 8, 8)
    calls = []
    net[1][1].register_forward_pre_hook(lambda module, args: calls.append(1))
    with checks.interrupt_checks(net, None, "not a module"):
        assert net(x).shape == (1, 3, 6, 6)
        mm.interrupt_current_processing(True)
        with pytest.raises(mm.InterruptProcessingException):
            net(x)
        assert len(calls) == 1, "a layer ran after the interrupt"
    assert sum(len(m._forward_pre_hooks) for m in net.modules()) == 1  # only the test's own hook is left
    mm.interrupt_current_processing(True)
    assert net(x).shape == (1, 3, 6, 6)  # outside the block the model does not look at the flag
    mm.interrupt_current_processing(False)


# --- out of memory at the smallest tile ----------------------------------------------------------------------


def test_out_of_memory_at_the_smallest_tile_says_what_to_lower(comfy, monkeypatch):
    module = pack_module(comfy, "runtime.upscale_model")
    tiles = []

    def always_out_of_memory(upscale_model):
        def run(tile):
            tiles.append(tile.shape[-1])
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

        return run

    monkeypatch.setattr(module, "_interruptible", always_out_of_memory)
    prompt = {
        "1": image_node(300, 200),
        "2": {"class_type": "UpscaleModelLoader", "inputs": {"model_name": "tiny_compact.safetensors"}},
        "3": {"class_type": "GenerativeUpscale", "inputs": {**GU, "image": ["1", 0], "upscale_strength": 7,
                                                            "width": 600, "upscale_model": ["2", 0]}},
        "4": {"class_type": "PreviewImage", "inputs": {"images": ["3", 0]}},
    }
    run = comfy.run(prompt)
    error = run.error()
    assert error["exception_type"] == "torch.OutOfMemoryError"
    assert error["exception_message"].startswith(
        "Out of memory in the upscale model, even with the smallest tile (96 px). Fix: lower the output size "
        "(width, height or scale_by) or the image's size, or free device memory"), error["exception_message"]
    assert tiles == [166, 86]  # 192 and 96 px at most, fitted to the 300 px side: halved once, then given up


def test_out_of_memory_in_the_diffusion_pass_says_what_to_lower(comfy, ckpt):
    model, clip, vae = ckpt

    def out_of_memory(apply_model, args):
        raise torch.OutOfMemoryError("CUDA out of memory (simulated)")

    failing = model.clone()
    failing.set_model_unet_function_wrapper(out_of_memory)
    with torch.inference_mode(), pytest.raises(torch.OutOfMemoryError) as info:
        comfy.node("GenerativeUpscale").execute(image=torch.rand(1, 48, 64, 3), model=failing, vae=vae, clip=clip,
                                                **{**GU, "steps": 1})
    assert str(info.value).startswith("Out of memory in the diffusion pass, even with the smallest tile (128 px). "
                                      "Fix: lower the output size (width, height or scale_by)"), str(info.value)
