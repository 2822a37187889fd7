"""Pixels and age layers a render made, kept for the next generation's render in this process.

A mutation starts from its parent's pixels and age layer, which arrive as file bytes (the PNG
and the chaos-age layer). Inflating them is a fifth of a mutation's CPU time at 256 px (about
1.7 ms for the PNG, 0.8 ms for the layer), and the parent was, most of the time, rendered by
this same process a little earlier. So every render leaves what it made here, filed under the
exact bytes it wrote, and a later render finds its parent's values by those bytes instead of
decoding them. The same bytes decode to the same values, so no rendered byte changes; bytes
never seen here (another worker's render, a file from disk after a restart) are decoded as
before, and then kept too.

Bounded by memory (`PIXELS_LIMIT_BYTES`, `LAYERS_LIMIT_BYTES`; pixels take width * height * 3
bytes, a layer only its non-zero entries), the least recently used out first. The arrays
handed out are read-only: callers share them.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from .memory import HEADER_BYTES, AgeLayer
from .png import decode_png

#: Pixels: 64 MiB, ~340 pictures of 256 px, so a burst round-robin over a few hundred tokens
#: still finds each parent.
PIXELS_LIMIT_BYTES = 64 << 20
#: Layers: their non-zero entries (655 per mutation at 256 px, 24 bytes each).
LAYERS_LIMIT_BYTES = 8 << 20
#: A layer is kept only while its values fit the file's uint32 (born <= generation): beyond it
#: the decoded values would differ from the ones in memory.
_LAYER_LIMIT = 2**32


class _Recent:
    """A byte-bounded LRU map from file bytes to what they decode to."""

    def __init__(self, limit: int):
        self.limit = limit
        self.size = 0
        self.entries: OrderedDict[bytes, tuple[object, int]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: bytes):
        with self.lock:
            entry = self.entries.get(key)
            if entry is None:
                return None
            self.entries.move_to_end(key)
            return entry[0]

    def put(self, key: bytes, value, size: int) -> None:
        size += len(key)
        if size > self.limit:
            return
        with self.lock:
            old = self.entries.pop(key, None)
            if old is not None:
                self.size -= old[1]
            self.entries[key] = (value, size)
            self.size += size
            while self.size > self.limit:
                _, (_, dropped) = self.entries.popitem(last=False)
                self.size -= dropped

    def clear(self) -> None:
        with self.lock:
            self.entries.clear()
            self.size = 0


_pixels = _Recent(PIXELS_LIMIT_BYTES)
_layers = _Recent(LAYERS_LIMIT_BYTES)


def _frozen(array: np.ndarray) -> np.ndarray:
    copy = np.array(array, copy=True)
    copy.flags.writeable = False
    return copy


def remember_pixels(png: bytes, pixels: np.ndarray) -> None:
    """`png` (bytes renderer.png.encode_png wrote) decodes to `pixels`."""
    _pixels.put(png, _frozen(pixels), pixels.nbytes)


def pixels(png: bytes) -> np.ndarray:
    """`renderer.png.decode_png(png)`, read-only, from memory when this process made or read these bytes."""
    found = _pixels.get(png)
    if found is None:
        found = _frozen(decode_png(png))
        _pixels.put(png, found, found.nbytes)
    return found


def remember_layer(data: bytes, layer: AgeLayer) -> None:
    """`data` (bytes AgeLayer.encode wrote) decodes to `layer`."""
    if layer.generation >= _LAYER_LIMIT:
        return
    born, count = layer.born.reshape(-1), layer.count.reshape(-1)
    where = np.flatnonzero((born | count) != 0)  # through a bool mask: 40% quicker than on int64
    sparse = (layer.generation, layer.shape, where, born[where], count[where])
    _layers.put(data, sparse, sum(a.nbytes for a in sparse[2:]))


def layer(data: bytes) -> AgeLayer:
    """`AgeLayer.decode(data)`, rebuilt from memory when this process made or read these bytes."""
    found = _layers.get(data)
    if found is None:
        decoded = AgeLayer.decode(data)
        remember_layer(data, decoded)
        return decoded
    generation, (height, width), where, born_values, count_values = found
    born = np.zeros(height * width, dtype=np.int64)
    count = np.zeros(height * width, dtype=np.int64)
    born[where], count[where] = born_values, count_values
    return AgeLayer(generation, born.reshape(height, width), count.reshape(height, width), data[HEADER_BYTES:])


def forget() -> None:
    """Drop everything kept (tests that compare a decode with a rebuild)."""
    _pixels.clear()
    _layers.clear()
