"""Palette colouring shared by backends, in integers.

The minter's palette ("observer protocol") must colour every backend's pictures, not only
the CPU backend's: a diffusion model knows nothing of palettes, so its output is graded
toward the palette by luminance (`tint`).
"""

from __future__ import annotations

import numpy as np

from .base import Colour


def gradient(palette: list[Colour], position: np.ndarray) -> np.ndarray:
    """Colours along the palette for positions in [0, 65535]: (..., 3), of position's integer type
    (int32 is enough: (end - start) * frac stays under 2**24)."""
    colours = np.array(palette, dtype=np.int32)
    segments = len(palette) - 1
    scaled = position * segments
    index = np.minimum(scaled >> 16, segments - 1)
    frac = scaled - (index << 16)
    starts, steps = colours[:-1], colours[1:] - colours[:-1]
    # One flat gather per channel: faster than gathering (..., 3) rows.
    return np.stack([np.take(starts[:, c], index) + ((np.take(steps[:, c], index) * frac) >> 16)
                     for c in range(3)], axis=-1)


def tint(image: np.ndarray, palette: list[Colour], strength: int) -> np.ndarray:
    """Grade an (H, W, 3) uint8 image toward the palette:

        luma   = (77 r + 150 g + 29 b) >> 8                      # 0..255, BT.601 weights
        colour = gradient(palette, luma * 257)                   # dark pixels take dark palette colours
        out    = (image * (256 - strength) + colour * strength + 128) >> 8
    """
    if strength <= 0:
        return image
    rgb = image.astype(np.int32)
    luma = (77 * rgb[..., 0] + 150 * rgb[..., 1] + 29 * rgb[..., 2]) >> 8
    # The colour depends on the luma alone: 256 colours, gathered.
    colour = np.take(gradient(palette, np.arange(256, dtype=np.int32) * 257), luma, axis=0)
    return np.clip((rgb * (256 - strength) + colour * strength + 128) >> 8, 0, 255).astype(np.uint8)
