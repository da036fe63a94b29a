"""HiResGenerate's pure plan: target and native sizes, the adapters' recipes, faces and objects."""

import pytest
import torch

from hires_studio.bench.photos import load_photos
from hires_studio.core.adapter_recipe import CONTROL_DENOISE, paste_kept, recipe_for
from hires_studio.core.errors import HiResInputError
from hires_studio.core.masks import face_mask, find_face, grabcut_object_mask, object_mask
from hires_studio.core.native import budget_size, generation_size, native_side
from hires_studio.core.sizing import output_for_generation


@pytest.fixture(scope="module")
def astronaut():
    photo = dict(load_photos())["astronaut"]
    return torch.from_numpy(photo).float().div(255).permute(2, 0, 1)[None]


@pytest.mark.parametrize(
    ("width", "height", "reference", "expected"),
    [
        (2048, 1024, None, (2048, 1024)),
        (1000, 0, None, (1000, 1000)),
        (1000, 0, (640, 427), (1000, 667)),
        (0, 500, (640, 427), (749, 500)),
        (0, 0, (640, 427), (640, 427)),
        (0, 0, None, (512, 512)),
    ],
)
def test_target_size(width, height, reference, expected):
    assert output_for_generation(width, height, reference, 512) == expected


@pytest.mark.parametrize(("width", "name"), [(-1, "width"), (16385, "width")])
def test_target_size_errors(width, name):
    with pytest.raises(HiResInputError, match=f"{name}="):
        output_for_generation(width, 10, None, 512)


@pytest.mark.parametrize(
    ("family", "side"), [("SD15", 512), ("SD20", 768), ("SDXL", 1024), ("Flux", 1024), ("QwenImage", 1328),
                         ("SomethingNew", 1024)],
)
def test_native_side_per_family(family, side):
    assert native_side(family) == side


@pytest.mark.parametrize("aspect", [1.0, 2.0, 0.5, 16 / 9, 9 / 21, 4.0, 30.0])
@pytest.mark.parametrize("family", ["SD15", "SDXL", "Flux"])
def test_native_size_keeps_the_budget_and_the_aspect(aspect, family):
    w, h = budget_size(native_side(family), aspect)
    budget = native_side(family) ** 2
    assert w % 16 == 0 and h % 16 == 0
    assert 0.75 * budget <= w * h <= 1.3 * budget
    assert abs(w / h - aspect) / aspect < 0.1


def test_generation_size_direct_below_the_budget_and_native_above():
    assert generation_size((300, 201), 512) == (304, 208)
    assert generation_size((2048, 1024), 512) == (720, 368)
    assert generation_size((2048, 1024), 1024) == (1456, 720)
    assert generation_size((3000, 100), 512) == (2800, 96)


def test_text_only_recipe_generates_from_noise():
    recipe = recipe_for(None, None, None, None, False, (64, 64), (128, 128))
    assert recipe.start is None and recipe.regenerate is None and recipe.hint is None and recipe.denoise == 1.0


def test_control_recipes(astronaut):
    control = recipe_for("control", astronaut, None, None, False, (256, 256), (512, 512))
    assert control.start.shape == (1, 3, 256, 256) and control.denoise == CONTROL_DENOISE
    assert control.hint.shape == (1, 3, 256, 256) and set(control.hint.unique().tolist()) <= {0.0, 1.0}
    drawing = recipe_for("control2", astronaut, None, None, False, (256, 256), (512, 512))
    assert drawing.start is None and drawing.denoise == 1.0 and torch.equal(drawing.hint, control.hint)


def test_inpainting_keeps_exactly_the_unmasked_area(astronaut):
    mask = torch.zeros(1, 512, 512)
    mask[:, 100:200, 150:300] = 1
    recipe = recipe_for("inpainting", astronaut, None, mask, False, (256, 256), (512, 512))
    assert recipe.regenerate.shape == (1, 1, 256, 256)
    assert recipe.regenerate[0, 0, 60, 100] == 1 and recipe.regenerate[0, 0, 10, 10] == 0
    assert torch.equal(recipe.keep_mask[0, 0], 1 - mask[0])
    generated = torch.rand(1, 3, 512, 512)
    out = paste_kept(generated, recipe)
    keep = recipe.keep_mask.bool().expand(-1, 3, -1, -1)
    assert torch.equal(out[keep], astronaut[keep])
    assert torch.equal(out[~keep], generated[~keep])


def test_object_mask_precedence_and_grabcut():
    rgb = torch.full((3, 64, 80), 0.9)
    rgb[:, 20:44, 30:50] = torch.tensor([0.1, 0.2, 0.8])[:, None, None]
    estimate = grabcut_object_mask(rgb)
    inside = estimate[20:44, 30:50].mean()
    outside = torch.cat([estimate[:15].flatten(), estimate[50:].flatten()]).mean()
    assert inside > 0.9 and outside < 0.05
    alpha = torch.zeros(1, 64, 80)
    alpha[:, :10, :10] = 1
    assert torch.equal(object_mask(rgb, alpha, None), alpha[0])
    given = torch.zeros(64, 80)
    given[5, 5] = 1
    assert torch.equal(object_mask(rgb, alpha, given), given)


def test_face_found_and_face_id_keeps_less(astronaut):
    face = find_face(astronaut[0])
    assert face is not None and 150 < face.x + face.w / 2 < 300 and 50 < face.y + face.h / 2 < 200
    alone = face_mask(astronaut[0], face_id=True)
    with_hair = face_mask(astronaut[0], face_id=False)
    assert 0 < alone.sum() < with_hair.sum()
    assert torch.all(with_hair[alone.bool()] == 1), "the face alone is inside the face with hair"
    top = int(face.y)
    assert with_hair[:top].sum() > 0 and alone[:top].sum() == 0, "only the hair version reaches above the face"


def test_no_face_is_a_clear_error():
    with pytest.raises(HiResInputError, match=r"image='64x48': no face was found.*Fix:"):
        face_mask(torch.full((3, 48, 64), 0.5), face_id=False)
