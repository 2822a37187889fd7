"""The diffusion backend on a tiny SD-architecture model built from configs, saved, and loaded
through the same offline path a GPU box uses. Asserts what is honest on a CPU."""

import json
import os
import shutil
import socket

import numpy as np
import pytest
import torch

from renderer.backends import BACKENDS, BackendError, DiffusionBackend, load_backend
from renderer.backends.base import Creation, Proposal
from renderer.backends.diffusion import MIN_VOCABULARY
from renderer.devtools.tiny_model import save_tiny_model
from renderer.mask import changed_indices, mutation_mask
from renderer.palette import base_palette
from renderer.png import decode_png
from renderer.render import Origin, Parent, RenderRequest, render, render_batch, render_with_phoenix

from .events import mint_event, mutation_event, recolour_event

CANVAS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
PALETTE = base_palette("0x" + "ab" * 20)
SEED = bytes(range(32))
ENTROPY = bytes.fromhex("e7" * 32)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_model(tmp_path_factory.mktemp("models") / "tiny-sd")


@pytest.fixture(scope="module")
def backend(model_dir):
    return DiffusionBackend(model_dir, device="cpu", steps=2)


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 1 and 2 threads differ by ~1e-6: fix the count to compare bytes
    yield
    torch.set_num_threads(threads)


def _render(event, backend, parent=None, size=64):
    return render(event, Origin.from_mint(mint_event()), parent, backend, chain_id=31337, canvas=CANVAS, size=size)


# ---------------------------------------------------------------- loading


def test_the_model_loads_offline_from_its_folder(model_dir, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the diffusion backend tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    backend = load_backend("diffusion", model_dir=model_dir, device="cpu", steps=2)
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    assert backend.model_id.startswith("diffusers:tiny-sd@") and len(backend.model_id) == len("diffusers:tiny-sd@") + 12
    assert backend.deterministic is False and BACKENDS["diffusion"] is DiffusionBackend
    assert backend.settings == {"steps": 2, "guidance": 7.5, "mutation": "inpaint", "palette_tint": 96,
                                "device": "cpu", "dtype": "float32", "pipeline": "StableDiffusionPipeline",
                                "scheduler": "DDIMScheduler"}
    assert len(backend.pipeline("txt2img").tokenizer) >= MIN_VOCABULARY
    # One set of weights behind all three pipelines.
    assert backend.pipeline("inpaint").unet is backend.pipeline("img2img").unet is backend.pipeline("txt2img").unet


def test_a_missing_folder_says_how_to_fix_it(tmp_path):
    with pytest.raises(BackendError, match="does not exist") as error:
        DiffusionBackend(tmp_path / "nowhere", device="cpu")
    assert "--model-dir" in str(error.value) and "never downloads" in str(error.value)
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(BackendError, match="no model_index.json.*model.safetensors"):
        DiffusionBackend(tmp_path, device="cpu")
    with pytest.raises(BackendError, match="needs a local model folder"):
        load_backend("diffusion")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_asking_for_cuda_without_a_gpu_says_how_to_fix_it(model_dir):
    with pytest.raises(BackendError, match="sees no CUDA GPU") as error:
        DiffusionBackend(model_dir, device="cuda")
    assert "--device cpu" in str(error.value)
    with pytest.raises(BackendError, match="unknown device"):
        DiffusionBackend(model_dir, device="tpu")


def test_a_broken_tokenizer_vocabulary_is_refused(model_dir, tmp_path):
    from transformers import CLIPTokenizer

    broken = tmp_path / "broken-sd"
    shutil.copytree(model_dir, broken)
    shutil.rmtree(broken / "tokenizer")
    # What CLIPTokenizer.from_pretrained(<hub id>) gives under HF_HUB_OFFLINE: two tokens, no error.
    CLIPTokenizer(vocab={"<|startoftext|>": 0, "<|endoftext|>": 1}, merges=[]).save_pretrained(broken / "tokenizer")
    with pytest.raises(BackendError, match="vocabulary of 2 token") as error:
        DiffusionBackend(broken, device="cpu")
    assert "tokenizer files" in str(error.value)


# ---------------------------------------------------------------- pictures


def test_output_sizes(backend):
    assert backend.create("tide pools", SEED, PALETTE, 64, 64).shape == (64, 64, 3)
    odd = backend.create("tide pools", SEED, PALETTE, 40, 24)  # not multiples of 8: padded, then cropped
    assert odd.shape == (24, 40, 3) and odd.dtype == np.uint8


def test_same_seed_same_image_and_each_input_matters(backend, one_thread):
    first = backend.create("tide pools", SEED, PALETTE, 32, 32)
    assert np.array_equal(first, backend.create("tide pools", SEED, PALETTE, 32, 32))
    assert not np.array_equal(first, backend.create("tide pools", bytes(32), PALETTE, 32, 32))
    assert not np.array_equal(first, backend.create("a desert at dawn", SEED, PALETTE, 32, 32))
    assert not np.array_equal(first, backend.create("tide pools", SEED, base_palette("0x" + "cd" * 20), 32, 32))


@pytest.mark.parametrize("mode", ["inpaint", "img2img"])
def test_a_proposal_is_the_parent_outside_the_mask(model_dir, backend, mode, one_thread):
    chosen = backend if mode == "inpaint" else DiffusionBackend(model_dir, device="cpu", steps=2, mutation=mode)
    parent = backend.create("tide pools", SEED, PALETTE, 64, 64)
    mask = mutation_mask(ENTROPY, 64, 64)
    proposal = chosen.propose_mutation(parent, "tide pools", SEED, ENTROPY, PALETTE, mask)
    changed = changed_indices(parent, proposal)
    assert len(changed) > 0.9 * len(mask) and set(changed.tolist()) <= set(mask.tolist())
    again = chosen.propose_mutation(parent, "tide pools", SEED, ENTROPY, PALETTE, mask)
    assert np.array_equal(proposal, again)
    other = chosen.propose_mutation(parent, "tide pools", SEED, bytes(32), PALETTE, mask)
    assert not np.array_equal(proposal, other)


def test_a_mint_and_a_mutation_through_render(backend, one_thread):
    mint = _render(mint_event(), backend)
    provenance = json.loads(mint.metadata)["provenance"]
    assert decode_png(mint.image_png).shape == (64, 64, 3)
    assert provenance["renderer"]["model"] == backend.model_id
    assert provenance["renderer"]["backend"] == {"name": "diffusion", "settings": backend.settings}
    child = _render(mutation_event(), backend, Parent(mint.image_png, mint.metadata_cid, mint.age_layer))
    mask = mutation_mask(ENTROPY, 64, 64)
    assert changed_indices(decode_png(mint.image_png), decode_png(child.image_png)).tolist() == mask.tolist()


def test_an_injected_cuda_out_of_memory_is_reborn_with_fewer_steps(backend, monkeypatch):
    pipeline = backend.pipeline("txt2img")
    seen = []
    original = type(pipeline).__call__

    def tight_memory(self, *args, **kwargs):
        seen.append((kwargs["height"], kwargs["num_inference_steps"]))
        if kwargs["height"] > 32:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.50 GiB")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(pipeline), "__call__", tight_memory)
    rendered = render_with_phoenix(mint_event(), Origin.from_mint(mint_event()), None, backend, chain_id=31337,
                                   canvas=CANVAS, size=64)
    assert seen == [(64, 2), (32, 1)]
    provenance = json.loads(rendered.metadata)["provenance"]
    assert provenance["phoenix"]["reason"] == "cuda-oom"
    assert provenance["renderer"]["backend"]["settings"]["steps"] == 1
    assert decode_png(rendered.image_png).shape == (32, 32, 3)
    assert backend.steps == 2  # the degraded copy shares the weights, not the settings


# ---------------------------------------------------------------- batches (chaos daemon --gpu-batch)


@pytest.fixture(scope="module")
def batching(model_dir):
    return DiffusionBackend(model_dir, device="cpu", steps=2, max_batch=4)


class _PipelineCalls:
    """Counts the pictures of every real pipeline call (the pipeline still runs)."""

    def __init__(self, monkeypatch, pipeline, fail=None):
        self.sizes = []
        original = type(pipeline).__call__

        def counted(this, *args, **kwargs):
            prompt = kwargs["prompt"]
            count = len(prompt) if isinstance(prompt, list) else 1
            self.sizes.append(count)
            if fail and fail(count, kwargs):
                raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 3.00 GiB")
            return original(this, *args, **kwargs)

        monkeypatch.setattr(type(pipeline), "__call__", counted)


def _requests(backend):
    """Two mints and two mutations of four tokens, a recolour, each with its parent where it needs one."""
    parents = {}
    for token in (3, 4):
        mint = _render(mint_event(token_id=token, seed="0x" + f"{token:02x}" * 32), backend)
        parents[token] = Parent(mint.image_png, mint.metadata_cid, mint.age_layer)
    common = dict(chain_id=31337, canvas=CANVAS, size=64)
    return [
        RenderRequest(mint_event(token_id=1, prompt="tide pools"), Origin.from_mint(mint_event(token_id=1)), None,
                      **common),
        RenderRequest(mutation_event(token_id=3), Origin.from_mint(mint_event(token_id=3, seed="0x" + "03" * 32)),
                      parents[3], **common),
        RenderRequest(mint_event(token_id=2, prompt="a desert at dawn", seed="0x" + "17" * 32),
                      Origin.from_mint(mint_event(token_id=2, prompt="a desert at dawn", seed="0x" + "17" * 32)),
                      None, **common),
        RenderRequest(recolour_event(token_id=4), Origin.from_mint(mint_event(token_id=4, seed="0x" + "04" * 32)),
                      parents[4], **common),
        RenderRequest(mutation_event(token_id=4, entropy="0x" + "5b" * 32),
                      Origin.from_mint(mint_event(token_id=4, seed="0x" + "04" * 32)), parents[4], **common),
    ]


def _near(one: np.ndarray, other: np.ndarray) -> bool:
    """The same picture to float rounding: a batched kernel may sum in another order, which moves a
    rare channel value by 1 after rounding to uint8 (on this CPU: a few values in 10,000)."""
    difference = np.abs(one.astype(int) - other.astype(int))
    return one.shape == other.shape and difference.max() <= 1 and (difference > 0).mean() < 0.001


def _same_render(one, other) -> bool:
    """Two renders of one job equal but for float rounding in the picture (and so its CIDs)."""
    if not _near(decode_png(one.image_png), decode_png(other.image_png)):
        return False

    one_pixels, other_pixels = decode_png(one.image_png), decode_png(other.image_png)
    # A value moved by rounding can turn a pixel that kept its parent's colour into a changed one
    # (or back): the changed fraction may differ by the pixels whose values differ, no more.
    rounded = np.any(one_pixels != other_pixels, axis=-1).mean()

    def without_image(rendered):
        document = json.loads(rendered.metadata)
        document.pop("image")
        document.pop("animation_url")  # the CID of an animation holding the image's bytes
        document["provenance"].pop("image")
        document["provenance"].pop("changed_pixel_fraction")  # compared below, to the rounding
        return document

    return (without_image(one) == without_image(other) and one.age_layer == other.age_layer
            and abs(one.changed_pixel_fraction - other.changed_pixel_fraction) <= rounded
            and one.phoenix == other.phoenix)


def _alone(request, backend):
    return render_with_phoenix(request.event, request.origin, request.parent, backend, chain_id=request.chain_id,
                               canvas=request.canvas, size=request.size)


def test_a_batch_gives_each_item_what_its_own_call_gives(batching, one_thread):
    creations = [Creation("tide pools", SEED, PALETTE, 40, 24), Creation("a desert", bytes(32), PALETTE, 40, 24),
                 Creation("tide pools", bytes(32), base_palette("0x" + "cd" * 20), 40, 24)]
    together = batching.create_batch(creations)
    for item, image in zip(creations, together):
        assert _near(image, batching.create(item.prompt, item.seed, item.palette, item.width, item.height))
    assert not _near(together[0], together[1])  # a generator per item, not one for all
    entropies = [bytes([i + 1]) * 32 for i in range(len(together))]
    proposals = [Proposal(image, "tide pools", SEED, entropy, PALETTE, mutation_mask(entropy, 40, 24))
                 for image, entropy in zip(together, entropies)]
    frames = batching.propose_batch(proposals)
    for item, frame in zip(proposals, frames):
        alone = batching.propose_mutation(item.parent, item.prompt, item.seed, item.entropy, item.palette, item.mask)
        assert _near(frame, alone)
        assert set(changed_indices(item.parent, frame).tolist()) <= set(item.mask.tolist())  # pasted on its own parent
    with pytest.raises(BackendError, match="one size"):
        batching.create_batch([creations[0], Creation("x", SEED, PALETTE, 32, 32)])
    with pytest.raises(BackendError, match="max_batch of 4"):
        batching.create_batch(creations * 2)


def test_render_batch_groups_jobs_into_pipeline_calls_and_matches_single_renders(batching, monkeypatch, one_thread):
    requests = _requests(batching)
    alone = [_alone(request, batching) for request in requests]
    calls = _PipelineCalls(monkeypatch, batching.pipeline("txt2img"))
    inpaint = _PipelineCalls(monkeypatch, batching.pipeline("inpaint"))
    results = render_batch(requests, batching)
    assert calls.sizes == [2] and inpaint.sizes == [2]  # two mints in one call, two mutations in one; no recolour
    assert all(_same_render(one, other) for one, other in zip(results, alone))
    assert results[3] == alone[3]  # a recolour uses no model: the very same bytes
    assert len({r.image_cid for r in results}) == len(results)


def test_a_batch_that_runs_out_of_memory_is_split_then_degraded(batching, monkeypatch, one_thread):
    requests = [r for r in _requests(batching) if r.event.kind == "mint"]
    alone = [_alone(request, batching) for request in requests]
    calls = _PipelineCalls(monkeypatch, batching.pipeline("txt2img"), fail=lambda count, _: count > 1)
    # Split into single calls, not degraded: each call is then the very one a lone render makes.
    assert render_batch(requests, batching) == alone
    assert calls.sizes == [2, 1, 1]
    tight = _PipelineCalls(monkeypatch, batching.pipeline("txt2img"), fail=lambda _, kwargs: kwargs["height"] > 32)
    degraded = render_batch(requests, batching)
    assert tight.sizes == [2, 1, 1, 1, 1]  # together, alone, then each alone at level 1 (32 px)
    assert [r.phoenix for r in degraded] == ["cuda-oom", "cuda-oom"]
    assert [decode_png(r.image_png).shape for r in degraded] == [(32, 32, 3)] * 2


def test_gpu_batch_reaches_the_backend(model_dir):
    from renderer.backends import backend_options
    from renderer.config import Settings

    options = backend_options(Settings().with_overrides(backend="diffusion", gpu_batch=4, model_dir=model_dir,
                                                        device="cpu"))
    assert options["max_batch"] == 4
    assert load_backend("diffusion", **options).capabilities.max_batch == 4
    with pytest.raises(BackendError, match="at least 1 picture"):
        load_backend("diffusion", **{**options, "max_batch": 0})
