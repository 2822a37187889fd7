"""The congestion glitch: the curve, the glitch on its own, and inside a mutation's render."""

from __future__ import annotations

import json

import numpy as np
import pytest

from renderer.backends.noise import NoiseBackend
from renderer.congestion import (DEFAULT_THRESHOLD_WEI, GWEI, MAX_STRENGTH, Congestion, congestion_strength, glitch,
                                 row_shifts)
from renderer.mask import changed_indices, mutation_mask
from renderer.png import decode_png
from renderer.render import Origin, Parent, recorded_inputs, render

from .events import mint_event, mutation_event

CANVAS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
ENTROPY = bytes.fromhex("e7" * 32)


def _ramp(width=128, height=128):
    """A picture whose value grows along each row: a displaced pixel differs by its displacement."""
    x = np.arange(width, dtype=np.int64)
    row = np.stack([x * 255 // (width - 1), (255 - x * 255 // (width - 1)), x * 97 % 256], axis=-1)
    return np.broadcast_to(row, (height, width, 3)).astype(np.uint8).copy()


def test_the_curve_is_zero_up_to_the_threshold_then_grows_to_its_cap():
    threshold = DEFAULT_THRESHOLD_WEI
    assert threshold == 50 * GWEI
    assert congestion_strength(0, threshold) == 0
    assert congestion_strength(threshold, threshold) == 0
    assert congestion_strength(threshold + 1, threshold) == 1
    assert congestion_strength(2 * threshold, threshold) == 9
    strengths = [congestion_strength(fee * GWEI, threshold) for fee in range(40, 400, 5)]
    assert strengths == sorted(strengths) and strengths[-1] == MAX_STRENGTH
    assert congestion_strength(10**30, threshold) == MAX_STRENGTH
    with pytest.raises(ValueError, match="positive number of wei"):
        congestion_strength(10, 0)


def test_below_the_threshold_nothing_changes():
    image = _ramp()
    mask = mutation_mask(ENTROPY, 128, 128)
    assert glitch(image, mask, ENTROPY, Congestion(49 * GWEI, 50 * GWEI).strength) is image
    assert not row_shifts(ENTROPY, 128, 0).any()


def test_only_mask_pixels_change_and_a_stronger_fee_moves_them_further():
    image = _ramp()
    mask = mutation_mask(ENTROPY, 128, 128)
    effects = []
    for fee in (51, 60, 100, 200, 400):
        strength = Congestion(fee * GWEI, 50 * GWEI).strength
        glitched = glitch(image, mask, ENTROPY, strength)
        changed = changed_indices(image, glitched)
        assert np.isin(changed, mask).all()  # never a pixel outside the mask
        assert len(changed) > 0
        effects.append((np.abs(row_shifts(ENTROPY, 128, strength)).sum(),
                        np.abs(glitched.astype(int) - image.astype(int)).sum()))
    shifts, differences = zip(*effects)
    assert list(shifts) == sorted(shifts) and shifts[0] < shifts[-1]
    assert differences[0] < differences[-1]


def test_the_glitch_is_a_pure_function_of_entropy_and_strength():
    image = _ramp()
    mask = mutation_mask(ENTROPY, 128, 128)
    a = glitch(image, mask, ENTROPY, 12)
    assert np.array_equal(a, glitch(image.copy(), mask, ENTROPY, 12))
    assert not np.array_equal(a, glitch(image, mask, bytes.fromhex("3c" * 32), 12))


def _mutation(congestion):
    origin = Origin.from_mint(mint_event())
    mint = render(mint_event(), origin, None, NoiseBackend(), chain_id=31337, canvas=CANVAS, size=96)
    parent = Parent(mint.image_png, mint.metadata_cid, mint.age_layer, mint.animation)
    child = render(mutation_event(), origin, parent, NoiseBackend(), chain_id=31337, canvas=CANVAS, size=96,
                   congestion=congestion)
    return mint, child


def test_a_congested_mutation_still_changes_exactly_its_mask_and_records_the_glitch():
    mint, calm = _mutation(Congestion(10 * GWEI, 50 * GWEI))
    _, busy = _mutation(Congestion(250 * GWEI, 50 * GWEI))
    mask = mutation_mask(bytes.fromhex("e7" * 32), 96, 96)
    before = decode_png(mint.image_png)
    for rendered in (calm, busy):
        assert np.array_equal(changed_indices(before, decode_png(rendered.image_png)), mask)
    assert not np.array_equal(decode_png(calm.image_png), decode_png(busy.image_png))
    recorded = json.loads(busy.metadata)["provenance"]["congestion"]
    assert recorded == {"base_fee_wei": str(250 * GWEI), "threshold_wei": str(50 * GWEI),
                        "strength": congestion_strength(250 * GWEI, 50 * GWEI), "rule": "renderer.congestion"}
    assert {"trait_type": "Congestion glitch", "value": recorded["strength"], "display_type": "number"} \
        in json.loads(busy.metadata)["attributes"]
    # Below the threshold: recorded with strength 0, and the same pixels as no congestion at all.
    assert json.loads(calm.metadata)["provenance"]["congestion"]["strength"] == 0
    _, none = _mutation(None)
    assert np.array_equal(decode_png(calm.image_png), decode_png(none.image_png))
    # What the metadata records repeats the render.
    assert recorded_inputs(json.loads(busy.metadata)["provenance"])["congestion"] == Congestion(250 * GWEI, 50 * GWEI)


def test_a_recorded_strength_off_the_curve_is_refused():
    with pytest.raises(ValueError, match="not the curve's"):
        Congestion.from_provenance({"base_fee_wei": str(250 * GWEI), "threshold_wei": str(50 * GWEI), "strength": 3})
