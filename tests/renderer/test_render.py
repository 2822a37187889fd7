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


# ---------------------------------------------------------------- golden bytes
# The CPU backend promises the same bytes on every machine, and verification re-renders to
# compare: any change to a pixel, an encoder or a metadata field changes these CIDs. They were
# taken before the numpy rewrite of the noise backend and the encoders, and must never drift.

from renderer import __version__  # noqa: E402
from renderer.colour import ColourInputs  # noqa: E402
from renderer.phoenix import Degradation  # noqa: E402
from renderer.pools import HueState  # noqa: E402
from renderer.telemetry import Reading, Sample  # noqa: E402

from .events import recolour_event  # noqa: E402

WAD = 10**18
POOLS = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
WARM = Reading("replay", Sample(temperature_c=71, memory_used_bytes=30, memory_total_bytes=80, power_mw=310_000),
               "trace.jsonl")


def _colour(crashed=()):
    prices = [WAD + h * WAD // 7 for h in range(12)]
    weights = [0] * 12
    weights[3], weights[8] = 40 * WAD, 90 * WAD
    states = tuple(HueState(h, 12, 5 * WAD, 10**24, prices[h], h in crashed, 10**9) for h in range(12))
    return ColourInputs(POOLS, 7, tuple(weights), states)


def _golden_history():
    """Eight renders covering every code path of the CPU render: mints at two sizes (one not a power
    of two), painted and unpainted mutations, a crash split, a recolour, phoenix degradations."""
    origin = Origin.from_mint(mint_event())
    options = dict(chain_id=31337, canvas=CANVAS)
    history = []

    def step(label, event, parent, **extra):
        rendered = render(event, origin, parent, NoiseBackend(), **options, **extra)
        history.append((label, rendered))
        return Parent(rendered.image_png, rendered.metadata_cid, rendered.age_layer)

    parent = step("mint", mint_event(), None, size=256, telemetry=WARM, colour=_colour())
    parent = step("mutation", mutation_event(generation=1), parent, size=256, telemetry=WARM, colour=_colour())
    parent = step("mutation-crashed", mutation_event(generation=2, entropy="0x" + "3c" * 32), parent, size=256,
                  colour=_colour(crashed=(8,)))
    parent = step("recolour-crashed", recolour_event(generation=3), parent, size=256, colour=_colour(crashed=(3, 8)))
    step("mutation-phoenix", mutation_event(generation=4, entropy="0x" + "e7" * 31 + "01"), parent, size=256,
         degrade=Degradation("cuda-oom", 1, "test"))
    step("mint-phoenix", mint_event(), None, size=256, degrade=Degradation("temperature", 2, "test"))
    parent = step("mint-120", mint_event(), None, size=120)
    step("mutation-120", mutation_event(generation=1), parent, size=120, telemetry=WARM)
    return history


def _versionless_cid(metadata: bytes) -> str:
    """The metadata's CID with the renderer's version blanked, so a release does not move it."""
    return file_cid(metadata.replace(f'"version":"{__version__}"'.encode(), b'"version":"-"'))


#: label -> (image CID, age layer CID, metadata CID with the version blanked)
GOLDEN = {
    "mint": ("bafkreiegcfmst55ezt2ixp4hltmc5fgls2atg3a3rycfo5njm5rswtodja", "bafkreihdwcuxfwa2m6ez463z6aiih6hoi726epiutffhnfszgxnfhmathu",
        "bafkreiguawqnkuvptuothcuq63qeurpi7ouw5ncs5cr5jl5hhaofrzxeve"),
    "mutation": ("bafkreicsdkdvgpzmeb4q26e5n622r4fqh74neccb3zatkaglbjkoenyvpm", "bafkreicjsi6vpy7fme6k7tanxbtz6x7yucuikxs4akqaw7v3h7q2mqh5hm",
        "bafkreiewvhudct6rk2iz77pz6lbsvbtjvy434yde3gktnwx7mctojkzgci"),
    "mutation-crashed": ("bafkreihiyzrfqlkh5x5x2d4377kkwdxpz3rcvohrebkqyz7co6iynt27ay", "bafkreic7liwydvso666stypapuqgqc7xilqey3ck6vhunugvdwj43r2oxy",
        "bafkreidyxs44rgt6eh6prk5m57yajm7yj6bh43yxyz6j3g3gubu4k4pplq"),
    "recolour-crashed": ("bafkreihy7dkm4zw5sg46loaeq6stdwvihggsn2esaxdnej23koykrn7tu4", "bafkreibcjcig4czkwjn3sw636ee457fhiqltt7ixxqqau2zvoddehj2oxe",
        "bafkreibts6s2ai6z32ohql3nh5nfx5e543hoggkakadg3hwlhcslunpcey"),
    "mutation-phoenix": ("bafkreicwe2hnkjhe7vyxego36px5gtlavsnnety3zgweaivbqk4g37anca", "bafkreib7vlec3tk5hrspzhyqa353i3l24qnslwzdmgddwfu5jequlp636a",
        "bafkreifn7iy5lqr4pnxtaq7m4lgx2gurrawkx2vvr5h3d2hjanvrfolwpi"),
    "mint-phoenix": ("bafkreifdbjjh7dm6wjkfuakaschpvbvimfqrxtadnxv77eyykghgsw7uue", "bafkreieqwfahftcywclmyqil4afg55ndfzbkembnmaamfxdihuu4475l7e",
        "bafkreigkjmnbfwziekv5pbfiqnpa6j3hf54zqpautyt7vyckbdrabhmhc4"),
    "mint-120": ("bafkreibfnooohdaarhylwzxjvvbohbxzragv4bett75fybr34msvlsrco4", "bafkreid3kwngzglqlbvziofkplprg6yfnd7gpxmfedsd4o5ahwhm2m6kbq",
        "bafkreif46u2wn47brhj5wmgkv3iwpbuyfquy7a2brietex2cbzvrmbhx2a"),
    "mutation-120": ("bafkreidgjc6hiighugymqdmzm2sh775ycgyvrebwabeexkycv5icybbyq4", "bafkreih3yeugaqvdqznpanr6jy7ccalijnszyvu2q6gefx2svqc545dn5y",
        "bafkreigr23yrayv4pmkaswoabjowm7nofc5irmu4twsv5klfuxmbq7ivme"),
}


def test_renders_are_bit_for_bit_the_golden_ones():
    found = {label: (r.image_cid, r.age_layer_cid, _versionless_cid(r.metadata)) for label, r in _golden_history()}
    assert found == GOLDEN


# ---------------------------------------------------------------- batches

from renderer.backends.base import Capabilities  # noqa: E402
from renderer.render import RenderRequest, render_batch  # noqa: E402


class _BatchingNoise(NoiseBackend):
    """The CPU backend declaring batches of 3, recording each call's size, refusing prompt "bad"."""

    capabilities = Capabilities(max_batch=3)

    def __init__(self):
        self.calls = []

    def create(self, prompt, seed, palette, width, height):
        if prompt == "bad":
            raise RuntimeError("the model refuses this prompt")
        return super().create(prompt, seed, palette, width, height)

    def create_batch(self, items):
        self.calls.append(("create", len(items)))
        return super().create_batch(items)

    def propose_batch(self, items):
        self.calls.append(("propose", len(items)))
        return super().propose_batch(items)


def _batch_requests():
    history = _golden_history()
    parent = next(Parent(r.image_png, r.metadata_cid, r.age_layer) for label, r in history if label == "mint-120")
    common = dict(chain_id=31337, canvas=CANVAS)
    requests = []
    for token in range(1, 6):
        event = mint_event(token_id=token, seed="0x" + f"{token:02x}" * 32)
        requests.append(RenderRequest(event, Origin.from_mint(event), None, size=64, **common))
    origin = Origin.from_mint(mint_event())
    requests.append(RenderRequest(mutation_event(generation=1), origin, parent, size=120, **common))
    requests.append(RenderRequest(mutation_event(generation=1, entropy="0x" + "12" * 32), origin, parent, size=120,
                                  telemetry=WARM, **common))
    requests.append(RenderRequest(recolour_event(generation=1), origin, parent, size=120, colour=_colour((3,)), **common))
    return requests


def _alone(request, backend):
    return render(request.event, request.origin, request.parent, backend, chain_id=request.chain_id,
                  canvas=request.canvas, size=request.size, telemetry=request.telemetry, colour=request.colour)


def test_a_batch_renders_each_job_as_it_would_render_alone():
    requests = _batch_requests()
    expected = [_alone(request, NoiseBackend()) for request in requests]
    assert render_batch(requests, NoiseBackend()) == expected
    batching = _BatchingNoise()
    assert render_batch(requests, batching) == expected
    # Five mints of one size in calls of at most three; two mutations of one parent size in one call.
    assert batching.calls == [("create", 3), ("create", 2), ("propose", 2)]


def test_one_bad_job_fails_alone():
    requests = _batch_requests()[:4]
    bad_event = mint_event(token_id=9, prompt="bad")
    requests[1] = RenderRequest(bad_event, Origin.from_mint(bad_event), None, chain_id=31337, canvas=CANVAS, size=64)
    orphan = RenderRequest(mutation_event(token_id=7), Origin.from_mint(mint_event(token_id=7)), None,
                           chain_id=31337, canvas=CANVAS, size=64)
    batching = _BatchingNoise()
    results = render_batch([*requests, orphan], batching)
    assert isinstance(results[1], RuntimeError) and "refuses" in str(results[1])
    assert isinstance(results[4], ValueError) and "needs its parent" in str(results[4])
    for index in (0, 2, 3):
        assert results[index] == _alone(requests[index], NoiseBackend())
    # The shared call failed; halves were tried, then each job of the failing half alone.
    # (A lone job calls `create`, which the list does not record.)
    assert batching.calls == [("create", 3), ("create", 2)]
