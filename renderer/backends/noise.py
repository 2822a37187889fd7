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

import numpy as np

from ..hashing import derive_key, keccak_stream
from .base import Colour
from .grade import gradient as _gradient

FIXED = 256  # fixed-point scale of coordinates inside a lattice cell


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


def _value_noise(key: bytes, cells: int, u: np.ndarray, v: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Value noise in [0, 65535] at pixel coordinates (u, v) given in 1/256 pixel, tiling the image."""
    width, height = size
    lattice = (keccak_stream(key, cells * cells).astype(np.int64) & 0xFFFF).reshape(cells, cells)
    lattice = np.pad(lattice, ((0, 1), (0, 1)), mode="wrap")  # periodic: no seam where warps wrap
    fx = (u % (width * FIXED)) * cells // width
    fy = (v % (height * FIXED)) * cells // height
    ix, iy = fx >> 8, fy >> 8
    sx, sy = _smooth(fx & 0xFF), _smooth(fy & 0xFF)
    top = lattice[iy, ix] + (((lattice[iy, ix + 1] - lattice[iy, ix]) * sx) >> 8)
    bottom = lattice[iy + 1, ix] + (((lattice[iy + 1, ix + 1] - lattice[iy + 1, ix]) * sx) >> 8)
    return top + (((bottom - top) * sy) >> 8)


def _fbm(key: bytes, style: _Style, u: np.ndarray, v: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Octaves of value noise, each twice as fine and half as strong, in [0, 65535]."""
    total = np.zeros(u.shape, dtype=np.int64)
    weight_sum = 0
    for octave in range(style.octaves):
        weight = 1 << (style.octaves - 1 - octave)
        total += weight * _value_noise(derive_key(key, octave), style.cells << octave, u, v, size)
        weight_sum += weight
    return total // weight_sum


class NoiseBackend:
    name = "noise"
    model_id = "chaos-noise/1"
    deterministic = True

    def create(self, prompt: str, seed: bytes, palette: list[Colour], width: int, height: int) -> np.ndarray:
        v, u = np.mgrid[0:height, 0:width].astype(np.int64) * FIXED
        return _draw(_style(prompt), seed, palette, u, v, (width, height))

    def propose_mutation(self, parent: np.ndarray, prompt: str, seed: bytes, entropy: bytes,
                         palette: list[Colour], mask: np.ndarray) -> np.ndarray:
        """The picture `create` would draw from a seed re-keyed by the entropy, at the mask's pixels
        only (every step is per pixel, so those pixels are bit for bit the full picture's); the
        parent elsewhere. 1% of the work of a full draw."""
        height, width, channels = parent.shape
        rows, cols = np.divmod(np.asarray(mask, dtype=np.int64), width)
        colours = _draw(_style(prompt), derive_key(seed, entropy), palette, cols * FIXED, rows * FIXED,
                        (width, height))
        proposal = parent.reshape(-1, channels).copy()
        proposal[mask] = colours
        return proposal.reshape(parent.shape)


def _draw(style: _Style, seed: bytes, palette: list[Colour], u: np.ndarray, v: np.ndarray,
          size: tuple[int, int]) -> np.ndarray:
    """The colours at pixel coordinates (u, v) (in 1/256 pixel, any shape) of the picture of `size`."""
    # Displacement of up to `warp`/256 of the width, in 1/256 pixel.
    reach = style.warp * size[0]
    warp_x = ((_fbm(derive_key(seed, "warp-x"), style, u, v, size) - 32768) * reach) >> 15
    warp_y = ((_fbm(derive_key(seed, "warp-y"), style, u, v, size) - 32768) * reach) >> 15
    height_field = _fbm(derive_key(seed, "height"), style, u + warp_x, v + warp_y, size)
    # Run back and forth through the palette `bands` times (a triangle wave, no hard seams).
    phase = (height_field * style.bands * 2) % (2 * 65536)
    position = np.where(phase < 65536, phase, 2 * 65536 - 1 - phase)
    colour = _gradient(palette, position)
    light = _fbm(derive_key(seed, "light"), style, u - warp_y, v + warp_x, size)
    shade = 176 + (light >> 9)  # 176..303 over 256: shadows and highlights
    return np.clip((colour * shade[..., None]) >> 8, 0, 255).astype(np.uint8)
