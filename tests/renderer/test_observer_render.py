"""Observation and reveal renders, as pure functions of their inputs (no chain, no IPFS)."""

import json

import numpy as np
import pytest

from renderer.backends import NoiseBackend
from renderer.chain import CanvasEvent
from renderer.mask import changed_indices, mask_digest
from renderer.observer import collapse_palette, observe_typed_data, recover_observer, sign_observation
from renderer.palette import base_palette, to_hex
from renderer.png import decode_png
from renderer.render import Origin, Parent, RenderRequest, render, render_batch
from renderer.sealed import (REVEAL_ALPHA, SealSecret, commitment_of, load_secret, reveal_mask, reveal_weights,
                             save_secret)

from .events import MINTER, mint_event

CANVAS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
ALICE_KEY = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
ALICE = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
BOB = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
ENTROPY = "0x" + "5a" * 32


def observation(observer=ALICE, entropy=ENTROPY, generation=1):
    return CanvasEvent("observation", 1, generation, 6, "0x" + "b4" * 32, "0x" + "a4" * 32, 0,
                       {"observer": observer, "entropy": entropy})


def reveal(prompt="a red door opening onto the sea", entropy=ENTROPY, generation=1):
    return CanvasEvent("reveal", 1, generation, 7, "0x" + "b5" * 32, "0x" + "a5" * 32, 0,
                       {"layer_prompt": prompt, "entropy": entropy})


def _render(event, parent=None):
    return render(event, Origin.from_mint(mint_event()), parent, NoiseBackend(), chain_id=31337, canvas=CANVAS,
                  size=64)


@pytest.fixture(scope="module")
def parent():
    minted = _render(mint_event())
    return Parent(minted.image_png, minted.metadata_cid, minted.age_layer)


def test_two_observers_collapse_different_colourings_of_the_same_picture(parent):
    by_alice, by_bob = _render(observation(ALICE), parent), _render(observation(BOB), parent)
    a, b, before = decode_png(by_alice.image_png), decode_png(by_bob.image_png), decode_png(parent.image_png)
    assert not np.array_equal(a, b) and not np.array_equal(a, before)
    meta = json.loads(by_alice.metadata)
    provenance = meta["provenance"]
    assert provenance["kind"] == "observation" and provenance["observation"]["observer"] == ALICE
    assert provenance["palette"] == [to_hex(c) for c in collapse_palette(ALICE, bytes.fromhex("5a" * 32))]
    assert provenance["palette"] != [to_hex(c) for c in base_palette(MINTER)]
    assert provenance["mask"] is None and provenance["entropy"] == ENTROPY
    assert {"trait_type": "Observer", "value": ALICE} in meta["attributes"]
    assert {"trait_type": "Kind", "value": "Observation"} in meta["attributes"]
    assert by_alice.changed_pixel_fraction > 0.5  # the whole picture is graded
    assert _render(observation(ALICE), parent) == by_alice  # a pure function


def test_the_entropy_not_the_address_picks_the_palette():
    """Grinding addresses does not pay: one observer gets another palette for each entropy."""
    palettes = {tuple(collapse_palette(ALICE, bytes([i]) * 32)) for i in range(8)}
    assert len(palettes) == 8
    with pytest.raises(ValueError):
        collapse_palette("0x1234", bytes(32))


def test_a_reveal_paints_its_layer_inside_the_disc_only(parent):
    revealed = _render(reveal(), parent)
    before, after = decode_png(parent.image_png), decode_png(revealed.image_png)
    weights = reveal_weights(bytes.fromhex("5a" * 32), 64, 64)
    disc = reveal_mask(weights)
    changed = changed_indices(before, after)
    assert len(changed) > len(disc) // 2 and np.isin(changed, disc).all()
    assert 0.15 < len(disc) / 64**2 < 0.5 and weights.max() == REVEAL_ALPHA
    provenance = json.loads(revealed.metadata)["provenance"]
    assert provenance["kind"] == "reveal" and provenance["reveal"]["layer_prompt"] == "a red door opening onto the sea"
    assert provenance["mask"] == {"digest": mask_digest(disc), "pixels": len(disc),
                                  "rule": "renderer.sealed.reveal_weights(entropy, width, height)"}
    other = _render(reveal("a white bird"), parent)
    assert other.image_cid != revealed.image_cid  # the layer prompt is painted, not only the disc


def test_new_kinds_render_in_batches_as_alone(parent):
    """render_batch (the daemon's path) gives each job the bytes render gives it alone."""
    requests = [RenderRequest(e, Origin.from_mint(mint_event()), parent, 31337, CANVAS, 64)
                for e in (reveal(), observation(), reveal("a white bird"))]
    results = render_batch(requests, NoiseBackend())
    assert results == [_render(r.event, parent) for r in requests]


def test_observation_signatures_recover_to_their_signer():
    signature = sign_observation(ALICE_KEY, 31337, CANVAS, 1, 4)
    assert recover_observer(signature, 31337, CANVAS, 1, 4) == ALICE
    assert recover_observer(signature, 31337, CANVAS, 1, 5) != ALICE  # another generation
    assert recover_observer(signature, 1, CANVAS, 1, 4) != ALICE  # another chain
    assert recover_observer(signature[:10], 31337, CANVAS, 1, 4) is None
    typed = observe_typed_data(31337, CANVAS.lower(), 1, 4)
    assert json.loads(json.dumps(typed)) == typed  # what a browser wallet's eth_signTypedData_v4 takes
    assert typed["domain"]["verifyingContract"] == CANVAS and typed["message"] == {"tokenId": 1, "generation": 4}


def test_seal_secrets_round_trip(tmp_path):
    secret = SealSecret.new(31337, CANVAS, 3, "a layer", 1_900_000_000)
    assert secret.commitment == "0x" + commitment_of("a layer", secret.salt_bytes).hex()
    path = save_secret(tmp_path, secret)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_secret(tmp_path, 31337, CANVAS, 3) == (secret, path)
    assert load_secret(tmp_path, 31337, CANVAS, 4) is None
