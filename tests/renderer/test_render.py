import json

import numpy as np
import pytest

from renderer.backends import NoiseBackend
from renderer.cid import file_cid
from renderer.mask import changed_indices, mask_digest, mutation_mask
from renderer.palette import base_palette, to_hex
from renderer.png import decode_png
from renderer.render import Origin, Parent, render

from .events import MINTER, mint_event, mutation_event

CANVAS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def _render(event, parent=None, size=64):
    return render(event, Origin.from_mint(mint_event()), parent, NoiseBackend(), chain_id=31337, canvas=CANVAS,
                  size=size)


def test_mint_render_and_its_metadata():
    rendered = _render(mint_event())
    assert rendered.image_cid == file_cid(rendered.image_png)
    assert rendered.metadata_cid == file_cid(rendered.metadata)
    assert decode_png(rendered.image_png).shape == (64, 64, 3)
    meta = json.loads(rendered.metadata)
    assert meta["name"] == "Chaos Canvas #1"
    assert meta["image"] == f"ipfs://{rendered.image_cid}"
    assert "a storm over the harbour" in meta["description"]
    assert {"trait_type": "Generation", "value": 0, "display_type": "number"} in meta["attributes"]
    provenance = meta["provenance"]
    assert provenance["parent"] is None and provenance["generation"] == 0 and provenance["kind"] == "mint"
    assert provenance["seed"] == "0x" + "42" * 32 and provenance["minter"] == MINTER
    assert provenance["palette"] == [to_hex(c) for c in base_palette(MINTER)]
    assert provenance["renderer"]["model"] == "chaos-noise/1"
    assert provenance["event"]["tx_hash"] == "0x" + "a1" * 32


def test_render_is_a_pure_function():
    assert _render(mint_event()) == _render(mint_event())


def test_mutation_changes_exactly_its_mask_and_links_its_parent():
    parent = _render(mint_event())
    child = _render(mutation_event(), Parent(parent.image_png, parent.metadata_cid))
    before, after = decode_png(parent.image_png), decode_png(child.image_png)
    mask = mutation_mask(bytes.fromhex("e7" * 32), 64, 64)
    assert changed_indices(before, after).tolist() == mask.tolist()
    assert child.changed_pixel_fraction == len(mask) / 64**2
    provenance = json.loads(child.metadata)["provenance"]
    assert provenance["parent"] == parent.metadata_cid
    assert provenance["kind"] == "mutation" and provenance["generation"] == 1
    assert provenance["entropy"] == "0x" + "e7" * 32
    assert provenance["mask"]["digest"] == mask_digest(mask)
    assert provenance["mask"]["pixels"] == len(mask) == 40


def test_a_mutation_without_its_parent_is_refused():
    with pytest.raises(ValueError, match="parent"):
        _render(mutation_event())


def test_default_size_is_256():
    image = decode_png(_render(mint_event(), size=256).image_png)
    assert image.shape == (256, 256, 3)
    assert np.any(image != image[0, 0])


def test_every_render_records_its_age_layer_telemetry_and_phoenix():
    rendered = _render(mint_event())
    provenance = json.loads(rendered.metadata)["provenance"]
    assert rendered.age_layer_cid == file_cid(rendered.age_layer) == provenance["memory"]["age_layer"]["cid"]
    assert provenance["memory"]["parent_age_layer"] is None
    assert provenance["telemetry"]["source"] == "absent" and provenance["telemetry"]["sample"] is None
    assert provenance["phoenix"] is None and rendered.phoenix is None
    assert provenance["renderer"]["backend"] == {"name": "noise", "settings": {}}
