import numpy as np
import pytest

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


# ---------------------------------------------------------------- the rule, written plainly
# The backend is vectorised (int32, gathers, a separable grid path); these are the rule's plain
# int64 formulas, as the module documents them. Both must give the same integers everywhere.

from renderer.backends import noise  # noqa: E402
from renderer.backends.grade import gradient  # noqa: E402
from renderer.hashing import derive_key, keccak_stream  # noqa: E402


def _plain_value_noise(key, cells, u, v, size):
    width, height = size
    lattice = (keccak_stream(key, cells * cells).astype(np.int64) & 0xFFFF).reshape(cells, cells)
    lattice = np.pad(lattice, ((0, 1), (0, 1)), mode="wrap")
    fx = (u % (width * 256)) * cells // width
    fy = (v % (height * 256)) * cells // height
    ix, iy = fx >> 8, fy >> 8
    sx, sy = noise._smooth(fx & 0xFF), noise._smooth(fy & 0xFF)
    top = lattice[iy, ix] + (((lattice[iy, ix + 1] - lattice[iy, ix]) * sx) >> 8)
    bottom = lattice[iy + 1, ix] + (((lattice[iy + 1, ix + 1] - lattice[iy + 1, ix]) * sx) >> 8)
    return top + (((bottom - top) * sy) >> 8)


def _plain_fbm(key, style, u, v, size):
    total, weight_sum = np.zeros(u.shape, dtype=np.int64), 0
    for octave in range(style.octaves):
        weight = 1 << (style.octaves - 1 - octave)
        total += weight * _plain_value_noise(derive_key(key, octave), style.cells << octave, u, v, size)
        weight_sum += weight
    return total // weight_sum


def _plain_draw(style, seed, palette, u, v, size):
    reach = style.warp * size[0]
    warp_x = ((_plain_fbm(derive_key(seed, "warp-x"), style, u, v, size) - 32768) * reach) >> 15
    warp_y = ((_plain_fbm(derive_key(seed, "warp-y"), style, u, v, size) - 32768) * reach) >> 15
    height_field = _plain_fbm(derive_key(seed, "height"), style, u + warp_x, v + warp_y, size)
    phase = (height_field * style.bands * 2) % (2 * 65536)
    position = np.where(phase < 65536, phase, 2 * 65536 - 1 - phase)
    colour = gradient(palette, position).astype(np.int64)
    light = _plain_fbm(derive_key(seed, "light"), style, u - warp_y, v + warp_x, size)
    shade = 176 + (light >> 9)
    return np.clip((colour * shade[..., None]) >> 8, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("prompt,width,height", [("tide pools", 64, 48), ("a desert", 37, 91), ("storm 3", 256, 256)])
def test_the_fast_draw_is_the_plain_rule(prompt, width, height):
    style = noise._style(prompt)
    v, u = np.mgrid[0:height, 0:width].astype(np.int64) * 256
    expected = _plain_draw(style, SEED, PALETTE, u, v, (width, height))
    assert np.array_equal(NoiseBackend().create(prompt, SEED, PALETTE, width, height), expected)


def test_fbm_at_any_coordinates_is_the_plain_rule():
    rng = np.random.default_rng(11)
    for prompt in ("tide pools", "a desert", "storm 3", "x"):
        style = noise._style(prompt)
        size = (int(rng.integers(1, 300)), int(rng.integers(1, 300)))
        # Far outside the image on both sides too: the noise tiles.
        u = rng.integers(-3 * size[0] * 256, 3 * size[0] * 256, 5000)
        v = rng.integers(-3 * size[1] * 256, 3 * size[1] * 256, 5000)
        assert np.array_equal(noise._fbm(b"k" * 32, style, u, v, size), _plain_fbm(b"k" * 32, style, u, v, size))
        grid_v, grid_u = np.mgrid[0:size[1], 0:size[0]].astype(np.int64) * 256
        assert np.array_equal(noise._fbm(b"k" * 32, style, None, None, size),
                              _plain_fbm(b"k" * 32, style, grid_u, grid_v, size))


def test_fbm_at_many_points_on_power_of_two_sides_is_the_plain_rule():
    """Power-of-two sides reduce and divide by masks and shifts, and many points on a coarse
    lattice go through a table of interpolated rows (noise._noise_by_rows): still the plain rule,
    for coordinates far outside the image on both sides too."""
    rng = np.random.default_rng(12)
    # Lattices of 3 << o cells ("harbour") see every bit of a coordinate; powers of two drop the low ones.
    for prompt, size in (("harbour", (256, 256)), ("harbour", (128, 64)), ("storm 3", (64, 256)),
                         ("a desert", (120, 90))):
        style = noise._style(prompt)
        u = rng.integers(-3 * size[0] * 256, 3 * size[0] * 256, 70_000)
        v = rng.integers(-3 * size[1] * 256, 3 * size[1] * 256, 70_000)
        assert (style.cells + 1) * style.cells * 256 <= noise.ROWS_PER_POINT * len(u)  # the rows path is taken
        assert np.array_equal(noise._fbm(b"k" * 32, style, u, v, size), _plain_fbm(b"k" * 32, style, u, v, size))
