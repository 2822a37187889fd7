"""renderer.decoded: a parent's pixels and age layer found by their bytes give the render that
decoding them gives."""

from __future__ import annotations

import numpy as np
import pytest

from renderer import decoded
from renderer.backends import NoiseBackend
from renderer.memory import AgeLayer
from renderer.png import decode_png
from renderer.render import Origin, Parent, render

from .events import mint_event, mutation_event, recolour_event

CANVAS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def _render(event, parent, size=48):
    return render(event, Origin.from_mint(mint_event()), parent, NoiseBackend(), chain_id=31337, canvas=CANVAS,
                  size=size)


def _as_read(rendered) -> Parent:
    """The parent as the daemon has it: bytes read from files, new objects."""
    return Parent(bytes(bytearray(rendered.image_png)), rendered.metadata_cid, bytes(bytearray(rendered.age_layer)),
                  bytes(bytearray(rendered.animation)))


def test_a_child_rendered_from_kept_values_is_the_child_rendered_from_decoded_files():
    mint = _render(mint_event(), None)
    first = _render(mutation_event(generation=1), _as_read(mint))
    events = [mutation_event(generation=2, entropy="0x" + "5a" * 32), recolour_event(generation=3)]
    kept, fresh = [first], [first]
    for event in events:
        kept.append(_render(event, _as_read(kept[-1])))  # the parent's values are found by its bytes
        decoded.forget()
        fresh.append(_render(event, _as_read(fresh[-1])))  # nothing kept: the files are decoded
    assert kept == fresh


def test_kept_values_are_the_decoded_ones_and_read_only():
    decoded.forget()
    child = _render(mutation_event(generation=1), _as_read(_render(mint_event(), None)))
    for _ in range(2):  # first as this process made them, then as decoded from the bytes alone
        pixels = decoded.pixels(bytes(bytearray(child.image_png)))
        assert np.array_equal(pixels, decode_png(child.image_png)) and not pixels.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            pixels[0, 0, 0] = 1
        layer = decoded.layer(bytes(bytearray(child.age_layer)))
        assert layer == AgeLayer.decode(child.age_layer) and layer.encode() == child.age_layer
        assert layer.carry(layer.generation + 1).encode()[26:] == child.age_layer[26:]
        decoded.forget()


def test_damaged_parent_bytes_are_still_refused():
    child = _render(mutation_event(generation=1), _as_read(_render(mint_event(), None)))
    with pytest.raises(ValueError, match="age layer"):
        decoded.layer(b"NOTAGE" + child.age_layer[6:])


def test_memory_is_bounded_least_recently_used_out_first():
    recent = decoded._Recent(limit=100)
    for key in (b"a", b"b", b"c"):
        recent.put(key, key.upper(), 39)  # 40 with the key
    assert recent.get(b"a") is None and recent.get(b"b") == b"B" and recent.size == 80
    recent.get(b"b")
    recent.put(b"d", b"D", 39)  # b was used last: c goes
    assert recent.get(b"c") is None and recent.get(b"b") == b"B" and recent.get(b"d") == b"D"
    recent.put(b"huge", b"H", 500)  # larger than the whole budget: not kept, nothing dropped
    assert recent.get(b"huge") is None and recent.size == 80
