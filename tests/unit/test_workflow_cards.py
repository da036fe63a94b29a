"""The Templates pictures: designed cards drawn from the workflow definitions for what needs weights the pack
cannot ship, the real output for what runs on the pack's own weights, and the committed pictures are what the
scripts make (pure: no ComfyUI)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from hires_studio.nodes.example_images import EXAMPLE_DIR
from hires_studio.scripts.thumbnails import JPEG_QUALITY, runs_on_pack_weights
from hires_studio.scripts.workflow_cards import CARD_SIZE, FOOTER_SIZE, card_facts, draw_card, font, footer_lines
from hires_studio.scripts.workflows import WORKFLOWS, input_images

ROOT = Path(__file__).resolve().parents[2]
BY_NAME = {w.name: w for w in WORKFLOWS}
DRAWN = [w.name for w in WORKFLOWS if not runs_on_pack_weights(w)]


def _photo(name: str) -> Path | None:
    images = sorted(input_images(BY_NAME[name].prompt))
    return EXAMPLE_DIR / images[0] if images else None


def test_real_output_only_where_the_pack_has_the_weights() -> None:
    assert sorted(w.name for w in WORKFLOWS if runs_on_pack_weights(w)) == [
        "bicubic_clean_to_size", "deepmode_upscale_x4", "stability_esrgan_x2_upscale", "upscale_realesrgan_to_width"]


@pytest.mark.parametrize(("name", "size", "tiles"), [
    ("generative_upscale_to_width", (3000, 2000), 24),  # the 384 x 256 example photo to 3000 wide
    ("stability_latent_x4_upscale", (768, 512), 2),  # Stability's 2x default
    ("hires_generate_from_prompt", (2048, 1024), 8),
    ("text_to_image_qwen", (2048, 1024), None),
    ("edges_guided_image_to_image", (320, 320), None),  # both sides 0: the adapter image's size
])
def test_a_card_states_the_exact_size_and_the_tiles_the_pass_plans(name, size, tiles) -> None:
    facts = card_facts(BY_NAME[name])
    assert facts.output_size == size
    assert facts.stages[-1] == f"exactly {size[0]} x {size[1]}"
    assert (None if facts.grid is None else len(facts.grid.tiles)) == tiles
    if facts.grid is not None:  # the grid covers the output's latent canvas
        assert (facts.grid.width * 8, facts.grid.height * 8) == (-(-size[0] // 8) * 8, -(-size[1] // 8) * 8)


@pytest.mark.parametrize("name", DRAWN)
def test_every_drawn_card_says_what_it_needs(name) -> None:
    workflow = BY_NAME[name]
    facts = card_facts(workflow)
    if workflow.hosted:
        assert facts.source == "hosted" and facts.needs == "needs a Comfy account (API node)"
    else:
        assert facts.needs.startswith("needs: ") and facts.needs != "needs: nothing else"
    assert facts.source == ("prompt" if not input_images(workflow.prompt) and not workflow.hosted
                            else facts.source)


@pytest.mark.parametrize("width", [178, 120])
def test_the_needs_footer_is_never_cut(width: int) -> None:
    """Every card's 'needs' text is drawn whole: wrapped at spaces into lines that fit, a parenthesis kept on one
    line (178 px is the footer's width beside the 'diagram' tag)."""
    draw = ImageDraw.Draw(Image.new("RGB", CARD_SIZE))
    for workflow in WORKFLOWS:
        needs = card_facts(workflow).needs
        lines = footer_lines(draw, needs, width)
        assert " ".join(lines) == needs, workflow.name
        assert all(draw.textlength(line, font=font(FOOTER_SIZE)) <= width for line in lines), (workflow.name, lines)
        assert not any(line.count("(") != line.count(")") for line in lines), lines
        assert len(lines) <= 2 or width < 178, (workflow.name, lines)


@pytest.mark.parametrize("name", DRAWN)
def test_the_committed_card_is_the_one_drawn_from_the_definition(name) -> None:
    card = draw_card(card_facts(BY_NAME[name]), _photo(name))
    assert card.size == CARD_SIZE and card.mode == "RGB"
    buffer = io.BytesIO()
    card.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
    committed = (ROOT / "workflows" / f"{name}.jpg").read_bytes()
    assert committed == buffer.getvalue(), f"workflows/{name}.jpg is out of date: run `make thumbnails`"


def test_a_card_is_mostly_not_one_colour() -> None:
    """Text and pictures are drawn on it (a failed font load would leave the gradient alone)."""
    card = draw_card(card_facts(BY_NAME["text_to_image_flux2"]), None).convert("L")
    histogram = card.histogram()
    assert sum(histogram[200:]) > 800  # white text and outlines


def test_every_picture_is_the_cards_size() -> None:
    for workflow in WORKFLOWS:
        with Image.open(ROOT / "workflows" / f"{workflow.name}.jpg") as picture:
            assert picture.size == CARD_SIZE, workflow.name


def test_template_cards_give_each_workflow_its_title_and_description() -> None:
    """web/template_cards.json (read by web/template_order.js): the Templates browser's card texts."""
    import json

    from hires_studio.scripts import workflows

    cards = json.loads((ROOT / workflows.TEMPLATE_CARDS).read_text())
    assert list(cards) == [w.name for w in WORKFLOWS]
    for workflow in WORKFLOWS:
        card = cards[workflow.name]
        assert card == workflows.template_card(workflow)
        assert card["title"] == workflow.display_title != workflow.name
        # The front end turns every '-' of a description into a space; the card's hyphens are non-breaking.
        assert "-" not in card["description"] and card["description"].replace(workflows.CARD_HYPHEN, "-") in (
            workflow.one_line, workflow.one_line.rstrip(".") + " and ComfyUI's API nodes.")
        assert ("ComfyUI's API nodes" in card["description"]) == workflow.hosted
