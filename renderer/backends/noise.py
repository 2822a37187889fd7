"""The embedded CPU backend: warped value-noise marbling in integer arithmetic.

No model, no GPU, no floating point: every step is integer numpy, so the same
(prompt, seed, palette, size) gives the same pixels on every machine, and a
verifier can re-render any generation and compare bytes.

The picture:
- the prompt fixes the structure: lattice size, octaves, warp strength and the
  number of colour bands (`_style` below);
- the seed fixes the noise: every lattice value is cut from keccak256 streams;
- the palette (from the minter) colours it: a height field, domain-warped by two
  other noise fields, runs back and forth through the five palette colours, and a
  fourth field shades it.
A mutation proposes the same picture from the seed mixed with the event's
entropy: the masked pixels show another phase of the same artwork.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..hashing import derive_key, keccak_stream
from .base import Capabilities, Colour, Creation, Proposal
from .grade import gradient as _gradient

FIXED = 256  # fixed-point scale of coordinates inside a lattice cell
MAX_CELLS = 4 << 4  # the finest lattice: cells (2..4) << (octaves (4..5) - 1)


@dataclass(frozen=True)
class _Style:
    cells: int  # lattice cells across the image at the coarsest octave
    octaves: int
    warp: int  # maximum displacement, in 1/256 of the image width
    bands: int  # how many times the height field runs through the palette


def _style(prompt: str) -> _Style:
    w = [int(x) for x in keccak_stream(derive_key("style", prompt), 4)]
    return _Style(cells=2 + w[0] % 3, octaves=4 + w[1] % 2, warp=24 + w[2] % 72, bands=1 + w[3] % 4)


def _smooth(t: np.ndarray) -> np.ndarray:
    """Integer smoothstep of t in [0, 256): 3t^2 - 2t^3, scaled to [0, 256]."""
    return (t * t * (3 * FIXED - 2 * t)) >> 16


#: _smooth of every fraction: one gather instead of five array operations per axis and octave.
_SMOOTH = _smooth(np.arange(FIXED, dtype=np.int32))


def _coordinate_type(extent: int):
    """int32 while position * cells stays below 2**31 (sides up to 131071 px), else int64: the
    integers, and so the pixels, are the same either way; int32 halves the memory traffic."""
    return np.int32 if extent * FIXED * MAX_CELLS < 2**31 else np.int64


def _lattice(key: bytes, cells: int) -> np.ndarray:
    """The (cells + 1, cells + 1) lattice of values in [0, 65535], wrapped (periodic: no seam
    where warps wrap around the image)."""
    values = (keccak_stream(key, cells * cells) & 0xFFFF).astype(np.int32).reshape(cells, cells)
    # np.pad(values, ((0, 1), (0, 1)), mode="wrap"), without its per-call overhead (16 lattices a draw).
    rows = np.concatenate([values, values[:1]], axis=0)
    return np.concatenate([rows, rows[:, :1]], axis=1)


def _reduce(position: np.ndarray, extent: int) -> np.ndarray:
    """Coordinates (1/256 pixel) modulo the image side: the noise tiles the image."""
    period = extent * FIXED
    kind = _coordinate_type(extent)
    if period & (period - 1) == 0:
        # A power-of-two period divides 2**32: the remainder is the low bits of the two's
        # complement, negative coordinates included, and narrowing first keeps them.
        return position.astype(kind) & (period - 1)
    return np.remainder(position, period).astype(kind)


def _position(reduced: np.ndarray, cells: int, extent: int) -> np.ndarray:
    """f = reduced * cells // extent: where along one axis, in 1/256 of a lattice cell."""
    if extent & (extent - 1) == 0:  # reduced >= 0: dividing by a power of two is a shift
        return (reduced * cells) >> (extent.bit_length() - 1)
    return reduced * cells // extent


def _axis(reduced: np.ndarray, cells: int, extent: int) -> tuple[np.ndarray, np.ndarray]:
    """Lattice cell index and smoothed fraction along one axis."""
    f = _position(reduced, cells, extent)
    return f >> 8, np.take(_SMOOTH, f & 0xFF)


@lru_cache(maxsize=16)
def _every_position(cells: int) -> tuple[np.ndarray, np.ndarray]:
    """_axis of every position f in [0, cells * 256): a lattice row's x-interpolation at all of them."""
    f = np.arange(cells * FIXED, dtype=np.int32)
    index, smooth = f >> 8, np.take(_SMOOTH, f & 0xFF)
    index.flags.writeable = smooth.flags.writeable = False
    return index, smooth


#: _noise_by_rows pays when its table (cells + 1 rows of cells * 256 positions) has at most this
#: many entries per point: measured on 65,536 points it takes ~35% less time up to ~0.6 entries a
#: point, as long up to ~2, twice as long at 4. So a mint's coarse octaves (up to 12 or 15 cells
#: at 256 px) go by rows; a mutation's 655 points never do.
ROWS_PER_POINT = 1


def _noise_by_rows(lattice: np.ndarray, fx, iy, sy) -> np.ndarray:
    """_noise_at's values by another road, for many points on a coarse lattice: every lattice row
    interpolated along x at every position fx once (the table `top` and `bottom` are read from),
    then per point two gathers and the mix along y. The same integers, in half the passes."""
    cells = lattice.shape[0] - 1
    ix, sx = _every_position(cells)
    rows = lattice[:, ix] + (((lattice[:, ix + 1] - lattice[:, ix]) * sx) >> 8)  # (cells + 1, cells * 256)
    span = cells * FIXED
    flat = rows.reshape(-1)
    index = iy * span + fx
    top = np.take(flat, index)
    bottom = np.take(flat, index + span)
    return top + (((bottom - top) * sy) >> 8)


def _noise_at(lattice: np.ndarray, ix, sx, iy, sy) -> np.ndarray:
    """Bilinear value noise at scattered points: the values every cell needs (corner,
    right - corner, below, below-right - below) as one table of four columns, one gather."""
    cells = lattice.shape[0] - 1
    a, b, c, d = lattice[:-1, :-1], lattice[:-1, 1:], lattice[1:, :-1], lattice[1:, 1:]
    cell = iy * cells + ix
    # One gather of a cell's four values side by side (a third of four separate gathers'
    # time), then one copy into four contiguous rows for the arithmetic.
    table = np.stack([a, b - a, c, d - c], axis=-1).reshape(-1, 4)
    corner, right, below, below_right = np.take(table, cell.reshape(-1), axis=0).T.copy()
    sx, sy = (s.reshape(-1) if s.shape == cell.shape else np.broadcast_to(s, cell.shape).reshape(-1)
              for s in (sx, sy))
    top = corner + ((right * sx) >> 8)
    bottom = below + ((below_right * sx) >> 8)
    return (top + (((bottom - top) * sy) >> 8)).reshape(cell.shape)


def _noise_grid(lattice: np.ndarray, ix, sx, iy, sy) -> np.ndarray:
    """The same noise at every pixel of a grid (ix, sx per column; iy, sy per row): each lattice
    row is interpolated along x once per column, then rows are picked and mixed along y."""
    rows = lattice[:, ix] + (((lattice[:, ix + 1] - lattice[:, ix]) * sx) >> 8)  # (cells + 1, width)
    top, bottom = rows[iy], rows[iy + 1]
    return top + (((bottom - top) * sy[:, None]) >> 8)


def _fbm(key: bytes, style: _Style, u: np.ndarray | None, v: np.ndarray | None,
         size: tuple[int, int]) -> np.ndarray:
    """Octaves of value noise in [0, 65535], each twice as fine and half as strong, at pixel
    coordinates (u, v) in 1/256 pixel (or, when u and v are None, at every pixel of the image:
    an (height, width) array). Octave o, with n = cells << o:

        L       = keccak_stream(derive_key(key, o), n * n) & 0xFFFF as n x n, wrapped to n + 1
        f       = (coordinate mod (side * 256)) * n // side;   i = f >> 8,   s = smooth(f & 255)
        top     = L[iy, ix] + ((L[iy, ix + 1] - L[iy, ix]) * sx >> 8)      bottom: row iy + 1
        noise_o = top + ((bottom - top) * sy >> 8)
        fbm     = sum(2**(octaves - 1 - o) * noise_o) // (2**octaves - 1)
    """
    width, height = size
    if u is None:
        mu = _reduce(np.arange(width, dtype=np.int64) * FIXED, width)
        mv = _reduce(np.arange(height, dtype=np.int64) * FIXED, height)
    else:
        mu, mv = _reduce(u, width), _reduce(v, height)
        points = np.broadcast_shapes(mu.shape, mv.shape)
        points = int(np.prod(points)) if points else 1
    total = None
    weight_sum = 0
    for octave in range(style.octaves):
        weight = 1 << (style.octaves - 1 - octave)
        cells = style.cells << octave
        lattice = _lattice(derive_key(key, octave), cells)
        if u is None:
            layer = _noise_grid(lattice, *_axis(mu, cells, width), *_axis(mv, cells, height))
        elif (cells + 1) * cells * FIXED <= ROWS_PER_POINT * points:
            layer = _noise_by_rows(lattice, _position(mu, cells, width), *_axis(mv, cells, height))
        else:
            layer = _noise_at(lattice, *_axis(mu, cells, width), *_axis(mv, cells, height))
        total = weight * layer if total is None else total + weight * layer
        weight_sum += weight
    return total // weight_sum


class NoiseBackend:
    name = "noise"
    model_id = "chaos-noise/1"
    deterministic = True
    capabilities = Capabilities()

    def create(self, prompt: str, seed: bytes, palette: list[Colour], width: int, height: int) -> np.ndarray:
        return _draw(_style(prompt), seed, palette, None, None, (width, height))

    def propose_mutation(self, parent: np.ndarray, prompt: str, seed: bytes, entropy: bytes,
                         palette: list[Colour], mask: np.ndarray) -> np.ndarray:
        """The picture `create` would draw from a seed re-keyed by the entropy, at the mask's pixels
        only (every step is per pixel, so those pixels are bit for bit the full picture's); the
        parent elsewhere. 1% of the pixels of a full draw."""
        height, width, channels = parent.shape
        rows, cols = np.divmod(np.asarray(mask, dtype=np.int64), width)
        colours = _draw(_style(prompt), derive_key(seed, entropy), palette, cols * FIXED, rows * FIXED,
                        (width, height))
        proposal = parent.reshape(-1, channels).copy()
        proposal[mask] = colours
        return proposal.reshape(parent.shape)

    @property
    def settings(self) -> dict:
        return {}

    def create_batch(self, items: list[Creation]) -> list[np.ndarray]:
        return [self.create(i.prompt, i.seed, i.palette, i.width, i.height) for i in items]

    def propose_batch(self, items: list[Proposal]) -> list[np.ndarray]:
        return [self.propose_mutation(i.parent, i.prompt, i.seed, i.entropy, i.palette, i.mask) for i in items]

    def degraded(self, steps_divisor: int) -> NoiseBackend:
        return self  # no steps to cut: a phoenix render is cheaper by its size alone

    def release_memory(self) -> None:
        """Nothing to release: the CPU backend holds no device memory."""


def _warp(field: np.ndarray, reach: int) -> np.ndarray:
    """A displacement of up to `reach` (1/256 pixel) from a noise field; the product needs 64 bits."""
    return (((field.astype(np.int64) - 32768) * reach) >> 15).astype(np.int32 if reach < 2**30 else np.int64)


def _draw(style: _Style, seed: bytes, palette: list[Colour], u: np.ndarray | None, v: np.ndarray | None,
          size: tuple[int, int]) -> np.ndarray:
    """The colours at pixel coordinates (u, v) (in 1/256 pixel, any shape) of the picture of `size`;
    with u and v None, the whole (height, width, 3) picture."""
    # Displacement of up to `warp`/256 of the width, in 1/256 pixel.
    reach = style.warp * size[0]
    warp_x = _warp(_fbm(derive_key(seed, "warp-x"), style, u, v, size), reach)
    warp_y = _warp(_fbm(derive_key(seed, "warp-y"), style, u, v, size), reach)
    if u is None:  # the grid's own coordinates, broadcast against the (height, width) warps
        width, height = size
        u = (np.arange(width, dtype=np.int64) * FIXED)[None, :]
        v = (np.arange(height, dtype=np.int64) * FIXED)[:, None]
    height_field = _fbm(derive_key(seed, "height"), style, u + warp_x, v + warp_y, size)
    # Run back and forth through the palette `bands` times (a triangle wave, no hard seams).
    phase = (height_field * style.bands * 2) % (2 * 65536)
    position = np.where(phase < 65536, phase, 2 * 65536 - 1 - phase)
    colour = _gradient(palette, position)
    light = _fbm(derive_key(seed, "light"), style, u - warp_y, v + warp_x, size)
    shade = 176 + (light >> 9)  # 176..303 over 256: shadows and highlights
    return np.minimum((colour * shade[..., None]) >> 8, 255).astype(np.uint8)
