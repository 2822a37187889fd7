"""Mutation memory: the per-pixel age layer, and how a mutated pixel remembers what it was.

The layer
---------
Every generation carries, beside its image, one layer of two numbers per pixel:

    born[y, x]   the generation in which the pixel last got a new value (0: the mint's paint)
    count[y, x]  how many mutations have changed the pixel

A mint starts with born = 0 and count = 0 everywhere. A mutation of generation g sets, for
every pixel p of its mask, born[p] = g and count[p] += 1; nothing else changes (so the layer,
like the image, changes exactly on the mask). The pixel's age at generation g is g - born[p].
Because `born` holds absolute generations, a generation that is not a mutation (a recolour)
needs no update: ages grow by themselves. The layer is therefore a function of the image size
and the chain's mutation entropies alone (`replay_layer`), and anyone can recompute it.

The blend rule (integer-exact)
------------------------------
A mutation of generation g does not overwrite a mask pixel blindly. With `old` the parent's
pixel, `new` the backend's proposal, age = (g - 1) - born[p] and count = count[p]:

    keep  = min(160, 8 * (age + 1) + 24 * count)                 # out of 256
    child = (keep * old + (256 - keep) * new + 128) >> 8         # per channel, integers

Paint that has lasted long keeps more of itself (up to 62.5%), and a pixel repainted many
times has built up layers that show through, so older generations stay visible as a trace
instead of vanishing. `renderer.mask.apply_mask` then guarantees every mask pixel still
differs from the parent, and every pixel outside the mask is the parent's.

The file format ("chaos-age/1"), pinned beside the image
-------------------------------------------------------
    magic       8 bytes  b"CHAOSAGE"
    version     uint16   1
    width       uint32
    height      uint32
    generation  uint64   the generation this layer belongs to
    body        a zlib stream of born then count, each width*height uint32, row-major
All integers are big-endian. Readers inflate any zlib stream. This renderer deflates with
zlib's run-length strategy (Z_RLE): the layer is long runs of zeros between the mask's
pixels, and level 9's match search over those runs cost ~10 ms per generation the token
had lived (200 ms at generation 20) against ~2 ms, for a body ~15% larger. Like the PNG
codec, the bytes depend only on the values and on the zlib build, so the layer's CID
(`renderer.cid.file_cid`) is reproducible on one build; `chaos verify` compares the decoded
values, never the compressed bytes. (Layers written at level 9 by earlier renderers read the same.)
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from .mask import mutation_mask
from .png import deflate, encode_png

FORMAT = "chaos-age/1"
MAGIC = b"CHAOSAGE"
VERSION = 1
_HEADER = struct.Struct(">8sHIIQ")
#: Bytes before the zlib body.
HEADER_BYTES = _HEADER.size

KEEP_MAX = 160
KEEP_PER_AGE = 8
KEEP_PER_COUNT = 24


@dataclass(frozen=True)
class AgeLayer:
    generation: int
    born: np.ndarray  # (height, width) int64
    count: np.ndarray  # (height, width) int64
    #: The compressed body of exactly these values, when already known (a decoded or carried
    #: layer, a fresh one): deflating is a good part of a render's CPU time, so it is never redone.
    body: bytes | None = field(default=None, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        return self.born.shape

    @classmethod
    def fresh(cls, width: int, height: int, generation: int = 0) -> AgeLayer:
        """The layer of a mint: every pixel born at generation 0, never mutated."""
        zeros = np.zeros((height, width), dtype=np.int64)
        return cls(generation, zeros, zeros.copy(), _fresh_body(width, height))

    def age(self, generation: int | None = None) -> np.ndarray:
        """Generations each pixel's value has lasted, seen from `generation` (default: the layer's own)."""
        return (self.generation if generation is None else generation) - self.born

    def advance(self, mask: np.ndarray, generation: int) -> AgeLayer:
        """The layer after the mutation of `generation` over the flat pixel indices `mask`."""
        if generation <= self.generation:
            raise ValueError(f"an age layer of generation {self.generation} cannot advance to {generation}")
        born, count = self.born.copy(), self.count.copy()
        born.reshape(-1)[mask] = generation
        count.reshape(-1)[mask] += 1
        return AgeLayer(generation, born, count)

    def carry(self, generation: int) -> AgeLayer:
        """The same layer for a later generation that changed no pixel's history (a recolour)."""
        return AgeLayer(generation, self.born, self.count, self.body)

    def encode(self) -> bytes:
        height, width = self.shape
        body = self.body if self.body is not None else _compress(self.born, self.count)
        return _HEADER.pack(MAGIC, VERSION, width, height, self.generation) + body

    @classmethod
    def decode(cls, data: bytes) -> AgeLayer:
        if len(data) < _HEADER.size or data[:8] != MAGIC:
            raise ValueError("not a chaos-age layer (bad magic): expected the .age file pinned beside the image")
        magic, version, width, height, generation = _HEADER.unpack_from(data)
        if version != VERSION:
            raise ValueError(f"chaos-age layer version {version} is not supported (this renderer reads {VERSION})")
        try:
            body = zlib.decompress(data[_HEADER.size:])
        except zlib.error as exc:
            raise ValueError(f"corrupt chaos-age layer: {exc}") from None
        if len(body) != 8 * width * height:
            raise ValueError(f"corrupt chaos-age layer: {len(body)} body bytes for {width}x{height}")
        values = np.frombuffer(body, dtype=">u4").astype(np.int64)
        pixels = width * height
        return cls(generation, values[:pixels].reshape(height, width), values[pixels:].reshape(height, width),
                   data[_HEADER.size:])

    def __eq__(self, other) -> bool:
        return (isinstance(other, AgeLayer) and self.generation == other.generation
                and np.array_equal(self.born, other.born) and np.array_equal(self.count, other.count))


def _compress(born: np.ndarray, count: np.ndarray) -> bytes:
    # Cast straight into one big-endian buffer and deflate it in place: no int64 concatenation, no copy to bytes.
    pixels = born.size
    values = np.empty(2 * pixels, dtype=">u4")
    values[:pixels], values[pixels:] = born.reshape(-1), count.reshape(-1)
    return deflate(values)


@lru_cache(maxsize=8)
def _fresh_body(width: int, height: int) -> bytes:
    zeros = np.zeros((height, width), dtype=np.int64)
    return _compress(zeros, zeros)


def keep_weights(age: np.ndarray, count: np.ndarray) -> np.ndarray:
    """The blend rule's `keep` (out of 256) for arrays of ages and mutation counts."""
    return np.minimum(KEEP_MAX, KEEP_PER_AGE * (age + 1) + KEEP_PER_COUNT * count)


def blend(parent: np.ndarray, proposal: np.ndarray, layer: AgeLayer, mask: np.ndarray,
          generation: int) -> np.ndarray:
    """`proposal` with each mask pixel replaced by the blend rule's mix of parent and proposal.

    Pixels outside the mask are left as the proposal has them: the caller takes only the mask
    (`renderer.mask.apply_mask`).
    """
    if parent.shape != proposal.shape or parent.shape[:2] != layer.shape:
        raise ValueError(f"parent {parent.shape}, proposal {proposal.shape} and age layer {layer.shape} "
                         "must be the same size")
    channels = parent.shape[2]
    flat_born, flat_count = layer.born.reshape(-1)[mask], layer.count.reshape(-1)[mask]
    keep = keep_weights((generation - 1) - flat_born, flat_count)[:, None]
    old = parent.reshape(-1, channels)[mask].astype(np.int64)
    new = proposal.reshape(-1, channels)[mask].astype(np.int64)
    mixed = (keep * old + (256 - keep) * new + 128) >> 8
    out = proposal.reshape(-1, channels).copy()
    out[mask] = mixed.astype(proposal.dtype)
    return out.reshape(proposal.shape)


def replay_layer(width: int, height: int, generation: int, mutations: Iterable[tuple[int, bytes]]) -> AgeLayer:
    """The layer of `generation`, recomputed from the chain alone.

    `mutations` are (generation, 32-byte entropy) of the token's Mutated events; those after
    `generation` are ignored. Generations without a mutation (recolours) need no entry.
    """
    layer = AgeLayer.fresh(width, height)
    for mutation_generation, entropy in sorted(mutations):
        if mutation_generation <= generation:
            layer = layer.advance(mutation_mask(entropy, width, height), mutation_generation)
    return layer.carry(generation) if generation > layer.generation else layer


def age_png(layer_bytes: bytes, channel: str = "age") -> bytes:
    """A greyscale PNG of the layer, for people.

    channel "age":   brightness = 255 * age // max(generation, 1); white is paint as old as the
                     token, black was repainted in the layer's own generation.
    channel "count": brightness = min(255, 64 * count); black never mutated, white 4+ times.
    """
    layer = AgeLayer.decode(layer_bytes)
    if channel == "age":
        grey = 255 * layer.age() // max(layer.generation, 1)
    elif channel == "count":
        grey = np.minimum(255, 64 * layer.count)
    else:
        raise ValueError(f"unknown age-map channel {channel!r}: choose 'age' or 'count'")
    grey = np.clip(grey, 0, 255).astype(np.uint8)
    return encode_png(np.ascontiguousarray(np.repeat(grey[..., None], 3, axis=2)))


def write_age_png(layer_bytes: bytes, path: Path, channel: str = "age") -> Path:
    """`chaos age TOKEN`: write the pixel-age map of an age layer as a PNG at `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(age_png(layer_bytes, channel))
    return path
