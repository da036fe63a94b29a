"""deep-image's `print_size` paper names: the ones with one standard size (ISO 216 A and B, ISO 269 C, the North
American and architectural sizes) and the pixel size a print of them takes at a `dpi`. Pure: no ComfyUI import.

The schema's other names (a2extra, a3super, supera4, a4long, sob5extra, flsa, flse, note, memo, folio, arch1..6)
have no single published size, so a request naming one is refused rather than printed at a guessed size.
"""

from __future__ import annotations

MM_PER_INCH = 25.4

_ISO_MM: dict[str, tuple[float, float]] = {
    "a0": (841, 1189), "a1": (594, 841), "a2": (420, 594), "a3": (297, 420), "a4": (210, 297), "a5": (148, 210),
    "a6": (105, 148), "a7": (74, 105), "a8": (52, 74), "a9": (37, 52), "a10": (26, 37),
    "b0": (1000, 1414), "b1": (707, 1000), "b2": (500, 707), "b3": (353, 500), "b4": (250, 353), "b5": (176, 250),
    "b6": (125, 176), "b7": (88, 125), "b8": (62, 88), "b9": (44, 62), "b10": (31, 44),
    "c0": (917, 1297), "c1": (648, 917), "c2": (458, 648), "c3": (324, 458), "c4": (229, 324), "c5": (162, 229),
    "c6": (114, 162), "c7": (81, 114), "c8": (57, 81), "c9": (40, 57), "c10": (28, 40),
}
_INCHES: dict[str, tuple[float, float]] = {
    "letter": (8.5, 11), "legal": (8.5, 14), "executive": (7.25, 10.5), "tabloid": (11, 17), "ledger": (17, 11),
    "statement": (5.5, 8.5), "halfletter": (5.5, 8.5), "juniorlegal": (5, 8), "governmentletter": (8, 10.5),
    "governmentlegal": (8.5, 13), "11x17": (11, 17), "10x14": (10, 14),
    "archa": (9, 12), "archb": (12, 18), "archc": (18, 24), "archd": (24, 36), "arche": (36, 48),
    "arche1": (30, 42), "arche2": (26, 38), "arche3": (27, 39),
}
PAPER_INCHES: dict[str, tuple[float, float]] = {
    **{name: (w / MM_PER_INCH, h / MM_PER_INCH) for name, (w, h) in _ISO_MM.items()}, **_INCHES}
"""Served paper names -> (width, height) in inches, as the paper is named (ledger is the wide one)."""


def print_pixels(name: str, dpi: int) -> tuple[int, int]:
    """The pixel size of a print of paper `name` at `dpi` (KeyError for a name that is not served)."""
    width, height = PAPER_INCHES[name]
    return round(width * dpi), round(height * dpi)


def oriented(size: tuple[int, int], source: tuple[int, int]) -> tuple[int, int]:
    """`size` turned to the source image's orientation (print_reorientation): a landscape photo on A4 prints
    on landscape A4. A square source keeps the paper as named."""
    width, height = size
    if source[0] == source[1] or (source[0] > source[1]) == (width > height):
        return size
    return height, width
