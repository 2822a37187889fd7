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
from renderer.backends.diffusion import MIN_VOCABULARY
from renderer.backends.tiny_model import save_tiny_model
from renderer.mask import changed_indices, mutation_mask
from renderer.palette import base_palette
from renderer.phoenix import render_with_phoenix
from renderer.png import decode_png
from renderer.render import Origin, Parent, render

from .events import mint_event, mutation_event

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
