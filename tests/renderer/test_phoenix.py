import json

import numpy as np
import pytest
import torch

from renderer.backends import NoiseBackend
from renderer.mask import changed_indices, mutation_mask
from renderer.phoenix import FLAME_PROMPT, Degradation, PhoenixPolicy, is_out_of_memory
from renderer.png import decode_png
from renderer.render import Origin, Parent, recorded_inputs, render, render_with_phoenix
from renderer.telemetry import ReplayTelemetry

from .events import mint_event, mutation_event

CANVAS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
OPTIONS = dict(chain_id=31337, canvas=CANVAS, size=64)


class OutOfMemoryBackend(NoiseBackend):
    """The CPU backend on a pretend GPU that runs out of memory above `fits` pixels a side."""

    def __init__(self, fits=32, error=None):
        self.fits, self.error = fits, error or torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        self.calls, self.releases = [], 0

    def _guard(self, width):
        self.calls.append(width)
        if width > self.fits:
            raise self.error

    def create(self, prompt, seed, palette, width, height):
        self._guard(width)
        return super().create(prompt, seed, palette, width, height)

    def propose_mutation(self, parent, prompt, seed, entropy, palette, mask):
        self._guard(parent.shape[1])
        return super().propose_mutation(parent, prompt, seed, entropy, palette, mask)

    def release_memory(self):
        self.releases += 1


def _phoenix(event, backend, parent=None, **options):
    return render_with_phoenix(event, Origin.from_mint(mint_event()), parent, backend, **OPTIONS, **options)


def _trace(tmp_path, temperature):
    path = tmp_path / "trace.jsonl"
    path.write_text(json.dumps({"temperature_c": temperature, "memory_used_bytes": 10,
                                "memory_total_bytes": 80, "power_mw": 300_000}) + "\n")
    return ReplayTelemetry(path)


def test_a_hot_trace_renders_degraded_and_the_metadata_marks_it(tmp_path):
    reading = _trace(tmp_path, 95).sample()
    rendered = _phoenix(mint_event(), NoiseBackend(), telemetry=reading, policy=PhoenixPolicy(max_temperature_c=85))
    meta = json.loads(rendered.metadata)
    phoenix = meta["provenance"]["phoenix"]
    assert rendered.phoenix == "temperature"
    assert phoenix["reason"] == "temperature" and phoenix["level"] == 1 and "95 C" in phoenix["detail"]
    assert phoenix["prompt"] == FLAME_PROMPT and phoenix["requested_size"] == 64
    assert decode_png(rendered.image_png).shape == (32, 32, 3)  # smaller
    assert meta["provenance"]["prompt"] == "a storm over the harbour"  # the token's prompt stays its own
    assert {"trait_type": "Phoenix", "value": "Reborn (temperature)"} in meta["attributes"]
    normal = _phoenix(mint_event(), NoiseBackend(), telemetry=reading)
    assert normal.phoenix == "temperature"  # the default threshold is 85 C too


def test_a_cool_trace_renders_normally(tmp_path):
    rendered = _phoenix(mint_event(), NoiseBackend(), telemetry=_trace(tmp_path, 60).sample())
    assert rendered.phoenix is None and json.loads(rendered.metadata)["provenance"]["phoenix"] is None
    assert decode_png(rendered.image_png).shape == (64, 64, 3)
    hot = _trace(tmp_path, 95).sample()
    assert _phoenix(mint_event(), NoiseBackend(), telemetry=hot, policy=PhoenixPolicy(None)).phoenix is None


def test_an_injected_out_of_memory_retries_degraded_instead_of_failing():
    backend = OutOfMemoryBackend(fits=32)
    rendered = _phoenix(mint_event(), backend)
    assert backend.calls == [64, 32] and backend.releases == 1
    phoenix = json.loads(rendered.metadata)["provenance"]["phoenix"]
    assert phoenix["reason"] == "cuda-oom" and phoenix["level"] == 1
    assert phoenix["detail"].startswith("OutOfMemoryError: CUDA out of memory")
    assert decode_png(rendered.image_png).shape == (32, 32, 3)


def test_out_of_memory_goes_down_level_by_level_then_fails():
    deeper = OutOfMemoryBackend(fits=32)
    rendered = render_with_phoenix(mint_event(), Origin.from_mint(mint_event()), None, deeper, chain_id=31337,
                                   canvas=CANVAS, size=128)
    assert deeper.calls == [128, 64, 32] and deeper.releases == 2
    assert json.loads(rendered.metadata)["provenance"]["phoenix"]["level"] == 2
    capped = OutOfMemoryBackend(fits=32)
    with pytest.raises(torch.OutOfMemoryError):
        render_with_phoenix(mint_event(), Origin.from_mint(mint_event()), None, capped, chain_id=31337,
                            canvas=CANVAS, size=128, policy=PhoenixPolicy(max_level=1))
    assert capped.calls == [128, 64]
    floor = OutOfMemoryBackend(fits=16)  # sides stop at 32 px: past that only the steps shrink
    with pytest.raises(torch.OutOfMemoryError):
        _phoenix(mint_event(), floor)
    assert floor.calls == [64, 32, 32]


def test_other_errors_are_not_retried():
    backend = OutOfMemoryBackend(fits=0, error=ValueError("bad prompt"))
    with pytest.raises(ValueError, match="bad prompt"):
        _phoenix(mint_event(), backend)
    assert backend.calls == [64]


def test_out_of_memory_is_recognised_however_it_surfaces():
    assert is_out_of_memory(torch.OutOfMemoryError("CUDA out of memory"))
    assert is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert not is_out_of_memory(RuntimeError("CUDA error: device-side assert triggered"))
    assert not is_out_of_memory(MemoryError())


def test_a_degraded_mutation_still_changes_exactly_its_mask():
    mint = render(mint_event(), Origin.from_mint(mint_event()), None, NoiseBackend(), **OPTIONS)
    parent = Parent(mint.image_png, mint.metadata_cid, mint.age_layer)
    backend = OutOfMemoryBackend(fits=32)
    child = _phoenix(mutation_event(), backend, parent=parent)
    assert backend.calls == [64, 32] and child.phoenix == "cuda-oom"
    mask = mutation_mask(bytes.fromhex("e7" * 32), 64, 64)
    before, after = decode_png(mint.image_png), decode_png(child.image_png)
    assert after.shape == before.shape
    assert changed_indices(before, after).tolist() == mask.tolist()
    normal = render(mutation_event(), Origin.from_mint(mint_event()), parent, NoiseBackend(), **OPTIONS)
    assert not np.array_equal(decode_png(normal.image_png), after)  # the flame prompt, at half scale


def test_a_degraded_render_repeats_from_its_metadata(tmp_path):
    rendered = _phoenix(mint_event(), NoiseBackend(), telemetry=_trace(tmp_path, 99).sample())
    inputs = recorded_inputs(json.loads(rendered.metadata)["provenance"])
    assert inputs["degrade"] == Degradation("temperature", 1, inputs["degrade"].detail) and inputs["size"] == 64
    again = render(mint_event(), Origin.from_mint(mint_event()), None, NoiseBackend(), chain_id=31337,
                   canvas=CANVAS, **inputs)
    assert again == rendered
