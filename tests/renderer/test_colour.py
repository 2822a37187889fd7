"""The palette rule, the crash split and re-colouring renders (renderer.colour, renderer.render)."""

import json

import numpy as np
import pytest

from renderer.backends import NoiseBackend
from renderer.colour import (ALPHA_MAX, HALF_PIGMENT, ColourInputs, channel_split, hue_colour,
                             render_palette)
from renderer.mask import changed_indices
from renderer.memory import AgeLayer
from renderer.palette import base_palette
from renderer.png import decode_png
from renderer.pools import HueState
from renderer.render import Origin, Parent, recorded_inputs, render

from .events import MINTER, mint_event, recolour_event

CANVAS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
POOLS = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
BASE = base_palette(MINTER)
WAD = 10**18


def _inputs(weights=(0,) * 12, prices=(WAD,) * 12, crashed=()):
    states = tuple(HueState(h, 12, 0, 10**24, prices[h], h in crashed, 10**9) for h in range(12))
    return ColourInputs(POOLS, 7, tuple(weights), states)


def _with(hue, value, base=0):
    values = [base] * 12
    values[hue] = value
    return tuple(values)


def test_no_pigment_and_even_prices_leave_the_base_palette():
    assert render_palette(BASE, None) == BASE
    assert render_palette(BASE, _inputs()) == BASE


def test_own_pigment_pulls_the_palette_toward_its_hue_and_more_pulls_harder():
    red = hue_colour(0, 12)
    assert red[0] == 255 and red[2] == 0  # hue 0 is centred on 15 degrees: red, a little orange

    def distance(palette):
        return sum(abs(c[i] - red[i]) for c in palette for i in range(3))

    little = render_palette(BASE, _inputs(weights=_with(0, HALF_PIGMENT // 10)))
    half = render_palette(BASE, _inputs(weights=_with(0, HALF_PIGMENT)))
    assert distance(BASE) > distance(little) > distance(half)
    # At HALF_PIGMENT the pull is ALPHA_MAX / 2 of 256: each channel moves about that far toward red.
    for before, after in zip(BASE, half):
        expected = (before[0] * (256 - ALPHA_MAX // 2) + red[0] * (ALPHA_MAX // 2) + 128) >> 8
        assert after[0] == expected


def test_a_dear_hue_pulls_every_palette_even_without_pigment():
    moved = render_palette(BASE, _inputs(prices=_with(6, 3 * WAD, base=WAD)))
    assert moved != BASE
    cyan = hue_colour(6, 12)
    assert sum(abs(c[2] - cyan[2]) for c in moved) < sum(abs(c[2] - cyan[2]) for c in BASE)


def test_channel_split_moves_red_right_and_blue_left_by_three_per_crashed_hue():
    image = np.arange(8 * 16 * 3, dtype=np.uint8).reshape(8, 16, 3)
    assert channel_split(image, 0) is image
    split = channel_split(image, 2)
    assert (split[:, 6:, 0] == image[:, :-6, 0]).all()
    assert (split[:, :-6, 2] == image[:, 6:, 2]).all()
    assert (split[..., 1] == image[..., 1]).all()


def test_crashed_held_needs_both_a_crash_and_pigment():
    assert _inputs(weights=_with(3, 5), crashed=(3, 4)).crashed_held == [3]
    assert _inputs(weights=_with(3, 5), crashed=(4,)).crashed_held == []


def test_colour_inputs_round_trip_through_provenance():
    inputs = _inputs(weights=_with(2, 12345 * WAD), prices=_with(2, 2 * WAD, base=WAD), crashed=(2,))
    block = json.loads(json.dumps(inputs.to_provenance()))
    assert ColourInputs.from_provenance(block) == inputs
    assert block["weights"][2] == str(12345 * WAD)  # big numbers survive any JSON reader as strings


def _mint(size=64):
    return render(mint_event(), Origin.from_mint(mint_event()), None, NoiseBackend(), chain_id=31337,
                  canvas=CANVAS, size=size)


def _recolour(parent, colour):
    return render(recolour_event(), Origin.from_mint(mint_event()),
                  Parent(parent.image_png, parent.metadata_cid, parent.age_layer), NoiseBackend(),
                  chain_id=31337, canvas=CANVAS, size=64, colour=colour)


def test_a_recolouring_grades_the_whole_picture_and_keeps_the_age_layer():
    parent = _mint()
    rendered = _recolour(parent, _inputs(weights=_with(8, HALF_PIGMENT)))
    before, after = decode_png(parent.image_png), decode_png(rendered.image_png)
    assert len(changed_indices(before, after)) > 0.5 * 64 * 64
    provenance = json.loads(rendered.metadata)["provenance"]
    assert provenance["kind"] == "recolour" and provenance["mask"] is None
    assert provenance["colour"]["weights"][8] == str(HALF_PIGMENT)
    layer, parent_layer = AgeLayer.decode(rendered.age_layer), AgeLayer.decode(parent.age_layer)
    assert layer.generation == 1 and (layer.born == parent_layer.born).all()
    assert (layer.count == parent_layer.count).all()  # a re-colouring repaints no pixel's history
    # Same inputs, same bytes: a re-colouring is verified by rendering it again.
    again = render(recolour_event(), Origin.from_mint(mint_event()),
                   Parent(parent.image_png, parent.metadata_cid, parent.age_layer), NoiseBackend(),
                   chain_id=31337, canvas=CANVAS, **recorded_inputs(provenance))
    assert again.metadata_cid == rendered.metadata_cid


def test_a_crashed_hue_splits_the_recoloured_picture():
    parent = _mint()
    calm = decode_png(_recolour(parent, _inputs(weights=_with(8, WAD))).image_png)
    crashed = decode_png(_recolour(parent, _inputs(weights=_with(8, WAD), crashed=(8,))).image_png)
    assert (crashed == channel_split(calm, 1)).all()


def test_a_recolouring_needs_its_parent():
    with pytest.raises(ValueError, match="needs its parent"):
        render(recolour_event(), Origin.from_mint(mint_event()), None, NoiseBackend(), chain_id=31337,
               canvas=CANVAS, size=64)
