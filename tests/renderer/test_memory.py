import json
import struct
import zlib

import numpy as np
import pytest

from renderer.backends import NoiseBackend
from renderer.cid import file_cid
from renderer.mask import apply_mask, changed_indices, mutation_mask
from renderer.memory import AgeLayer, age_png, blend, keep_weights, replay_layer, write_age_png
from renderer.palette import base_palette
from renderer.png import decode_png
from renderer.render import Origin, Parent, render

from .events import MINTER, mint_event, mutation_event

CANVAS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
ENTROPIES = ["0x" + "e7" * 32, "0x" + "3c" * 32, "0x" + "e7" * 31 + "01"]


def _render(event, parent=None, size=64):
    return render(event, Origin.from_mint(mint_event()), parent, NoiseBackend(), chain_id=31337, canvas=CANVAS,
                  size=size)


def _history(generations=3, size=64):
    """A mint and `generations` mutations, each fed its parent's image and age layer."""
    renders = [_render(mint_event(), size=size)]
    for generation, entropy in enumerate(ENTROPIES[:generations], start=1):
        previous = renders[-1]
        parent = Parent(previous.image_png, previous.metadata_cid, previous.age_layer)
        renders.append(_render(mutation_event(generation=generation, entropy=entropy), parent, size))
    return renders


def test_the_file_format_is_the_documented_one():
    layer = AgeLayer.fresh(3, 2).advance(np.array([1, 5]), 4)
    data = layer.encode()
    assert data[:8] == b"CHAOSAGE"
    assert struct.unpack(">HIIQ", data[8:26]) == (1, 3, 2, 4)
    body = np.frombuffer(zlib.decompress(data[26:]), dtype=">u4")
    assert body.tolist() == [0, 4, 0, 0, 0, 4] + [0, 1, 0, 0, 0, 1]
    assert AgeLayer.decode(data) == layer
    assert layer.encode() == data  # deterministic bytes, so a reproducible CID


def test_a_corrupt_layer_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="magic"):
        AgeLayer.decode(b"\x89PNG\r\n\x1a\n" + bytes(40))
    data = AgeLayer.fresh(4, 4).encode()
    with pytest.raises(ValueError, match="corrupt"):
        AgeLayer.decode(data[:26] + zlib.compress(bytes(8)))


def test_advance_changes_only_the_mask_and_counts():
    mask = mutation_mask(bytes.fromhex("e7" * 32), 16, 16)
    layer = AgeLayer.fresh(16, 16).advance(mask, 1).advance(mask[:1], 2)
    assert np.flatnonzero(layer.born).tolist() == mask.tolist()
    assert layer.born.reshape(-1)[mask[0]] == 2 and layer.count.reshape(-1)[mask[0]] == 2
    assert layer.count.sum() == len(mask) + 1
    assert layer.age().reshape(-1)[mask[0]] == 0 and layer.age(5).max() == 5
    with pytest.raises(ValueError, match="cannot advance"):
        layer.advance(mask, 2)


def test_keep_weights_follow_the_documented_rule():
    age = np.array([0, 1, 9, 19, 50, 0, 0, 2])
    count = np.array([0, 0, 0, 0, 0, 1, 3, 9])
    assert keep_weights(age, count).tolist() == [8, 16, 80, 160, 160, 32, 80, 160]


def test_blend_mixes_only_mask_pixels_by_the_rule():
    rng = np.random.default_rng(1)
    parent = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    proposal = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    layer = AgeLayer(3, np.full((8, 8), 1), np.full((8, 8), 2))  # age at generation 4: 4 - 1 - 1 = 2
    mask = np.array([0, 9, 63])
    out = blend(parent, proposal, layer, mask, 4)
    keep = min(160, 8 * 3 + 24 * 2)
    old = parent.reshape(-1, 3)[mask].astype(int)
    new = proposal.reshape(-1, 3)[mask].astype(int)
    assert out.reshape(-1, 3)[mask].tolist() == ((keep * old + (256 - keep) * new + 128) >> 8).tolist()
    others = np.setdiff1d(np.arange(64), mask)
    assert np.array_equal(out.reshape(-1, 3)[others], proposal.reshape(-1, 3)[others])


def test_a_mutation_keeps_a_trace_of_old_paint_and_changes_exactly_its_mask():
    mint = _render(mint_event())
    previous = decode_png(mint.image_png)
    # An old canvas: every pixel's paint dates from generation 0, and this is generation 20.
    old = AgeLayer.fresh(64, 64, 19)
    event = mutation_event(generation=20)
    child = _render(event, Parent(mint.image_png, mint.metadata_cid, old.encode()))
    entropy = bytes.fromhex(event.args["entropy"][2:])
    mask = mutation_mask(entropy, 64, 64)
    # Recompute the child by hand from the documented rule: keep = min(160, 8 * (19 + 1)) = 160.
    proposal = NoiseBackend().propose_mutation(previous, "a storm over the harbour", bytes.fromhex("42" * 32),
                                               entropy, base_palette(MINTER), mask)
    expected = proposal.copy().reshape(-1, 3)
    mixed = (160 * previous.reshape(-1, 3)[mask].astype(int) + 96 * proposal.reshape(-1, 3)[mask].astype(int)
             + 128) >> 8
    expected[mask] = mixed
    expected = apply_mask(previous, expected.reshape(64, 64, 3), mask)
    after = decode_png(child.image_png)
    assert np.array_equal(after, expected)
    assert changed_indices(previous, after).tolist() == mask.tolist()
    # The trace: the child sits nearer the old paint than the raw proposal does.
    distance_to_old = np.abs(after.reshape(-1, 3)[mask].astype(int) - previous.reshape(-1, 3)[mask]).sum()
    raw_distance = np.abs(proposal.reshape(-1, 3)[mask].astype(int) - previous.reshape(-1, 3)[mask]).sum()
    assert distance_to_old < raw_distance * 0.5
    child_layer = AgeLayer.decode(child.age_layer)
    assert child_layer.generation == 20 and child_layer.count.sum() == len(mask)


def test_the_layer_travels_with_each_generation_and_the_metadata_names_it():
    renders = _history()
    for generation, rendered in enumerate(renders):
        memory = json.loads(rendered.metadata)["provenance"]["memory"]
        assert rendered.age_layer_cid == file_cid(rendered.age_layer) == memory["age_layer"]["cid"]
        assert memory["age_layer"]["format"] == "chaos-age/1" and memory["age_layer"]["generation"] == generation
        assert memory["parent_age_layer"] == (renders[generation - 1].age_layer_cid if generation else None)
        if generation:
            before, after = decode_png(renders[generation - 1].image_png), decode_png(rendered.image_png)
            mask = mutation_mask(bytes.fromhex(ENTROPIES[generation - 1][2:]), 64, 64)
            assert changed_indices(before, after).tolist() == mask.tolist()


def test_anyone_can_replay_the_layer_from_the_chain():
    renders = _history()
    mutations = [(g, bytes.fromhex(e[2:])) for g, e in enumerate(ENTROPIES, start=1)]
    for generation, rendered in enumerate(renders):
        assert replay_layer(64, 64, generation, mutations).encode() == rendered.age_layer
    # A later generation that was no mutation (a recolour) only ages the pixels.
    assert replay_layer(64, 64, 5, mutations).born.tolist() == AgeLayer.decode(renders[3].age_layer).born.tolist()


def test_a_parent_without_a_layer_reads_as_never_mutated():
    mint = _render(mint_event())
    without = _render(mutation_event(), Parent(mint.image_png, mint.metadata_cid))
    fresh = _render(mutation_event(), Parent(mint.image_png, mint.metadata_cid, AgeLayer.fresh(64, 64).encode()))
    assert without.image_png == fresh.image_png
    assert json.loads(without.metadata)["provenance"]["memory"]["parent_age_layer"] is None


def test_a_layer_that_does_not_fit_its_parent_is_refused():
    mint = _render(mint_event())
    with pytest.raises(ValueError, match="not of the same generation"):
        _render(mutation_event(), Parent(mint.image_png, mint.metadata_cid, AgeLayer.fresh(32, 32).encode()))
    with pytest.raises(ValueError, match="not older"):
        _render(mutation_event(), Parent(mint.image_png, mint.metadata_cid, AgeLayer.fresh(64, 64, 1).encode()))


def test_the_age_map_png(tmp_path):
    renders = _history()
    path = write_age_png(renders[-1].age_layer, tmp_path / "age" / "token-1.png")
    grey = decode_png(path.read_bytes())
    assert grey.shape == (64, 64, 3) and np.array_equal(grey[..., 0], grey[..., 2])
    last = mutation_mask(bytes.fromhex(ENTROPIES[2][2:]), 64, 64)
    assert (grey.reshape(-1, 3)[last, 0] == 0).all()  # repainted in the layer's own generation: black
    assert grey.reshape(-1, 3)[:, 0].max() == 255  # paint as old as the token: white
    counts = decode_png(age_png(renders[-1].age_layer, "count"))[..., 0]
    assert set(np.unique(counts).tolist()) <= {0, 64, 128, 192}
    with pytest.raises(ValueError, match="channel"):
        age_png(renders[-1].age_layer, "colour")


def test_a_known_body_is_reused_and_is_the_one_compression_gives():
    mask = mutation_mask(bytes.fromhex("e7" * 32), 64, 48)
    layer = AgeLayer.fresh(64, 48).advance(mask, 3)
    assert layer.body is None  # new values: compressed when encoded
    data = layer.encode()
    decoded = AgeLayer.decode(data)
    carried = decoded.carry(4)
    recomputed = AgeLayer(4, layer.born.copy(), layer.count.copy())  # no body known: compressed again
    assert carried.body is not None and carried.encode() == recomputed.encode()
    assert carried.encode()[len(data) - len(decoded.body):] == decoded.body
    assert AgeLayer.fresh(64, 48, 2).encode() == AgeLayer(2, np.zeros((48, 64), int), np.zeros((48, 64), int)).encode()


def test_a_layer_deflated_at_level_9_by_earlier_renderers_reads_the_same():
    layer = AgeLayer.fresh(64, 48).advance(mutation_mask(bytes.fromhex("3c" * 32), 64, 48), 2)
    data = layer.encode()
    body = np.concatenate([layer.born.reshape(-1), layer.count.reshape(-1)]).astype(">u4").tobytes()
    assert zlib.decompress(data[26:]) == body
    older = data[:26] + zlib.compress(body, 9)
    assert older != data and AgeLayer.decode(older) == layer
