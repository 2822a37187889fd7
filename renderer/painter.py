"""The GPU stress painter: the GPU's state at render time, painted into the picture.

The mapping from a telemetry sample (`renderer.telemetry.Sample`) to paint, in integers:

    hue shift (degrees)  = clamp(3 * (temperature_c - 40), 0, 180)     # cool GPU: none; 100 C: half a turn
    saturation (/256)    = 128 + 256 * memory_used // memory_total      # empty: x0.5 ... full: x1.5
    stroke strength      = min(255, 255 * power_mw // limit)            # limit = power_limit_mw,
                                                                        #   or 700 000 mW if unknown
A value the sample lacks maps to no effect (shift 0, saturation 256, strength 0). With no
sample at all (telemetry absent) the painter leaves the image alone.

How paint is applied to an (H, W, 3) uint8 image, every step in integers:

1. Hue and saturation, in integer HSV with a turn of 1536 hue units (six sextants of 256):
       v = max(r, g, b), c = v - min(r, g, b)
       h = (256 * (g - b)) // c            if v == r   (floor division; then h mod 1536)
           512 + (256 * (b - r)) // c      elif v == g
           1024 + (256 * (r - g)) // c     else          (h = 0 where c == 0)
       h' = (h + shift_deg * 1536 // 360) mod 1536,  c' = min(v, c * saturation // 256)
       x = (c' * (256 - |h' mod 512 - 256|)) >> 8,  m = v - c'
       (r, g, b) = m + [(c',x,0), (x,c',0), (0,c',x), (0,x,c'), (x,0,c'), (c',0,x)][h' >> 8]
2. Strokes: the image is cut into parallel bands B = max(2, W // 32) pixels wide, along the
   direction (dx, dy) = [(1, 1), (1, -1), (2, 1), (1, 2)][w0 % 4]; band k holds the pixels
   with (dx * x + dy * y + |dy| * (H - 1)) // B == k. Band k moves all three channels by
   ((w[k + 1] & 127) - 64) * strength >> 8 (arithmetic shift), clipped to 0..255.
   w = keccak_stream(key, bands + 1), key = derive_key(seed, "strokes") for a mint and
   derive_key(seed, entropy, "strokes") for a mutation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .hashing import keccak_stream
from .telemetry import Sample

HUE_UNITS = 1536
COOL_C = 40
DEGREES_PER_C = 3
MAX_SHIFT_DEG = 180
DEFAULT_POWER_LIMIT_MW = 700_000  # an H100 SXM's board limit: a stand-in where NVML reports none
_DIRECTIONS = [(1, 1), (1, -1), (2, 1), (1, 2)]


@dataclass(frozen=True)
class Paint:
    hue_shift_deg: int = 0
    saturation_256: int = 256
    stroke_strength: int = 0

    def to_json(self) -> dict:
        return asdict(self)

    @property
    def is_identity(self) -> bool:
        return self == Paint()


def paint_for(sample: Sample | None) -> Paint | None:
    """The documented mapping; None when there is no sample."""
    if sample is None:
        return None
    shift = 0
    if sample.temperature_c is not None:
        shift = min(MAX_SHIFT_DEG, max(0, DEGREES_PER_C * (sample.temperature_c - COOL_C)))
    saturation = 256
    if sample.memory_used_bytes is not None and sample.memory_total_bytes:
        used = min(max(sample.memory_used_bytes, 0), sample.memory_total_bytes)
        saturation = 128 + 256 * used // sample.memory_total_bytes
    strength = 0
    if sample.power_mw is not None:
        limit = sample.power_limit_mw or DEFAULT_POWER_LIMIT_MW
        strength = min(255, 255 * max(sample.power_mw, 0) // limit)
    return Paint(shift, saturation, strength)


def _shift_hue_and_saturation(rgb: np.ndarray, shift_deg: int, saturation: int) -> np.ndarray:
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    v = np.maximum(np.maximum(r, g), b)
    c = v - np.minimum(np.minimum(r, g), b)
    safe = np.where(c == 0, 1, c)
    h = np.where(v == r, (256 * (g - b)) // safe,
                 np.where(v == g, 512 + (256 * (b - r)) // safe, 1024 + (256 * (r - g)) // safe))
    h = np.where(c == 0, 0, h) % HUE_UNITS
    h = (h + shift_deg * HUE_UNITS // 360) % HUE_UNITS
    c = np.minimum(v, c * saturation // 256)
    x = (c * (256 - np.abs(h % 512 - 256))) >> 8
    m = v - c
    zero = np.zeros_like(c)
    table = np.stack([np.stack(t, axis=-1) for t in
                      ((c, x, zero), (x, c, zero), (zero, c, x), (zero, x, c), (x, zero, c), (c, zero, x))])
    sector = (h >> 8)[None, ..., None]
    return np.take_along_axis(table, sector, axis=0)[0] + m[..., None]


def _strokes(rgb: np.ndarray, strength: int, key: bytes) -> np.ndarray:
    height, width, _ = rgb.shape
    band = max(2, width // 32)
    first = int(keccak_stream(key, 1)[0])
    dx, dy = _DIRECTIONS[first % len(_DIRECTIONS)]
    y, x = np.mgrid[0:height, 0:width].astype(np.int64)
    index = (dx * x + dy * y + abs(dy) * (height - 1)) // band
    bands = int(index.max()) + 1
    words = keccak_stream(key, bands + 1).astype(np.int64)
    offsets = (words[1:] & 127) - 64
    return rgb + ((offsets[index] * strength) >> 8)[..., None]


def paint(image: np.ndarray, paint: Paint | None, key: bytes) -> np.ndarray:
    """`image` painted by `paint` (see the module's rule); the same array when there is nothing to paint."""
    if paint is None or paint.is_identity:
        return image
    rgb = image.astype(np.int64)
    if paint.hue_shift_deg or paint.saturation_256 != 256:
        rgb = _shift_hue_and_saturation(rgb, paint.hue_shift_deg, paint.saturation_256)
    if paint.stroke_strength:
        rgb = _strokes(rgb, paint.stroke_strength, key)
    return np.clip(rgb, 0, 255).astype(np.uint8)
