"""A final tile reads and maps only the part of each chip that lands on it, and gets the whole chip's result.

:func:`~gpudriz.pipeline.steps.chipdata.chip_part` finds the part from a
coarse exact map; :func:`~gpudriz.pipeline.steps.final.tile_part` checks it
and falls back to the whole chip when it was too small.  Either way a tile
equals the tile drizzled from whole chips, value for value.
"""

import numpy as np
import pytest

from gpudriz.pipeline.steps import final
from gpudriz.pipeline.steps.chipdata import chip_part, drizzle_margin, input_box, pixmap_to, scale_ratio
from gpudriz.pipeline.steps.final import FinalParams
from gpudriz.pipeline.steps.tiles import final_tile, plan_tiles

#: Tiles much smaller than the association's 64 x 128 chips: each chip lands on several.
SIDE = 24


def _chips(init, chip_input):
    return [chip_input(k, "static_ok", "sky", "crmask") for k in range(len(init.chips))]


def test_a_part_holds_every_pixel_that_lands_on_the_tile(init, pars):
    frame, params = init.final_frame, FinalParams.from_pars(pars)
    smaller = 0
    for w in init.chips:
        c = w.chip
        margin = drizzle_margin(params.pixfrac, scale_ratio(c, frame))
        whole = pixmap_to(c, frame, "cpu")
        for t in plan_tiles(frame.shape, SIDE):
            box = input_box(whole - np.array([t.x0, t.y0]), (t.ny, t.nx), margin, np)
            part = chip_part(c, frame, (t.x0, t.y0), (t.ny, t.nx), margin)
            if box is None:
                continue
            assert part is not None
            x0, y0, nx, ny = part
            assert x0 <= box[0] and box[1] < x0 + nx and y0 <= box[2] and box[3] < y0 + ny
            smaller += nx * ny < c.shape[0] * c.shape[1]
    assert smaller > 0


def _tiles(init, chip_input, pars):
    """Every tile of the final frame drizzled from every chip, as :func:`final_tile` gives it."""
    chips, params = _chips(init, chip_input), FinalParams.from_pars(pars)
    return [final_tile(chips, [None] * len(chips), init.final_frame, t, params, "cpu")
            for t in plan_tiles(init.final_frame.shape, SIDE)]  # fmt: skip


def _assert_same(got, expected):
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        assert a.chips == b.chips
        if a.image is None:
            assert b.image is None
            continue
        for name, data in a.image.planes().items():
            np.testing.assert_array_equal(data, b.image.planes()[name], err_msg=name)


@pytest.fixture(scope="module")
def whole_chip_tiles(init, chip_input, pars):
    """The tiles when every part is the whole chip (what the tiles did before reading parts)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(final, "chip_part", lambda chip, *a: (0, 0, chip.shape[1], chip.shape[0]))
        return _tiles(init, chip_input, pars)


def test_tiles_from_parts_are_the_tiles_from_whole_chips(init, chip_input, pars, whole_chip_tiles):
    _assert_same(_tiles(init, chip_input, pars), whole_chip_tiles)
    assert sum(t.image is not None for t in whole_chip_tiles) > 4


def test_a_part_found_too_small_falls_back_to_the_whole_chip(init, chip_input, pars, whole_chip_tiles, monkeypatch):
    """Parts 3 pixels short of what lands, on every side: what lands reaches their edge; the whole chip is used."""
    calls = {"short": 0}

    def short(chip, frame, origin, out_shape, margin):
        whole = pixmap_to(chip, frame, "cpu") - np.asarray(origin, dtype=np.float64)
        box = input_box(whole, out_shape, margin, np)
        if box is None:
            return None
        xmin, xmax, ymin, ymax = box
        if xmax - xmin < 8 or ymax - ymin < 8:
            return xmin, ymin, xmax - xmin + 1, ymax - ymin + 1
        calls["short"] += 1
        return xmin + 3, ymin + 3, xmax - xmin - 5, ymax - ymin - 5

    monkeypatch.setattr(final, "chip_part", short)
    _assert_same(_tiles(init, chip_input, pars), whole_chip_tiles)
    assert calls["short"] > 0
