import numpy as np

from renderer.backends import NoiseBackend, load_backend
from renderer.backends.base import BackendError
from renderer.palette import base_palette

PALETTE = base_palette("0x" + "ab" * 20)
SEED = bytes(range(32))


def test_same_inputs_same_pixels():
    backend = NoiseBackend()
    first = backend.create("tide pools", SEED, PALETTE, 64, 48)
    assert first.shape == (48, 64, 3) and first.dtype == np.uint8
    assert np.array_equal(first, NoiseBackend().create("tide pools", SEED, PALETTE, 64, 48))


def test_seed_prompt_and_palette_each_change_the_image():
    backend = NoiseBackend()
    base = backend.create("tide pools", SEED, PALETTE, 64, 64)
    assert not np.array_equal(base, backend.create("tide pools", bytes(32), PALETTE, 64, 64))
    assert not np.array_equal(base, backend.create("a desert", SEED, PALETTE, 64, 64))
    assert not np.array_equal(base, backend.create("tide pools", SEED, base_palette("0x" + "cd" * 20), 64, 64))


def test_image_is_not_flat():
    image = NoiseBackend().create("tide pools", SEED, PALETTE, 128, 128)
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 500


def test_mutation_proposal_depends_on_entropy():
    backend = NoiseBackend()
    parent = backend.create("tide pools", SEED, PALETTE, 32, 32)
    one = backend.propose_mutation(parent, "tide pools", SEED, b"\x01" * 32, PALETTE, np.array([0]))
    two = backend.propose_mutation(parent, "tide pools", SEED, b"\x02" * 32, PALETTE, np.array([0]))
    assert one.shape == parent.shape
    assert not np.array_equal(one, two)


def test_unknown_backend_is_a_clear_error():
    try:
        load_backend("dall-e")
    except BackendError as exc:
        assert "noise" in str(exc)
    else:
        raise AssertionError("an unknown backend must raise")
