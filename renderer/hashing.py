"""Keccak-256 streams: the one source of randomness every render draws from.

Everything a render needs that looks random (lattice values, mask draws,
palette hues) is cut from `keccak256(key || be32(counter))` blocks, so anyone
with the same key recomputes the same numbers on any machine, in any language.
"""

from __future__ import annotations

import struct

import numpy as np

_COUNTER = struct.Struct(">I")
#: be32(i) for the counters a render uses (a 64 x 64 lattice is 512 blocks, a 256 px mask ~330).
_COUNTERS = [_COUNTER.pack(i) for i in range(4096)]

try:  # safe-pysha3 (pinned in requirements.lock): a C call per block, ~10x eth_hash's wrapper
    from sha3 import keccak_256 as _keccak_256

    def keccak(data: bytes) -> bytes:
        return _keccak_256(data).digest()

    def _blocks(key: bytes, count: int) -> list[bytes]:
        # The key absorbed once; each block finishes a copy of that state with its counter
        # (a fifth less time than hashing key || counter afresh, a third with the counters
        # packed once: a mutation draws 600 to 2,900 blocks, most of its noise backend's time).
        copy = _keccak_256(key).copy
        out = []
        append = out.append
        counters = _COUNTERS[:count] if count <= len(_COUNTERS) else map(_COUNTER.pack, range(count))
        for counter in counters:
            block = copy()
            block.update(counter)
            append(block.digest())
        return out
except ImportError:  # pragma: no cover - the same digest, only slower
    from eth_hash.auto import keccak

    def _blocks(key: bytes, count: int) -> list[bytes]:
        return [keccak(key + _COUNTER.pack(i)) for i in range(count)]


def keccak_stream(key: bytes, count: int) -> np.ndarray:
    """The first `count` big-endian uint32 words of keccak256(key || be32(i)), i = 0, 1, ..."""
    raw = b"".join(_blocks(bytes(key), (count + 7) // 8))
    return np.frombuffer(raw, dtype=">u4")[:count].astype(np.uint32)


def derive_key(*parts: bytes | str | int) -> bytes:
    """A 32-byte key from labelled parts (strings are UTF-8, ints 32-byte big-endian)."""
    encoded = []
    for part in parts:
        if isinstance(part, str):
            encoded.append(part.encode("utf-8"))
        elif isinstance(part, int):
            encoded.append(part.to_bytes(32, "big"))
        else:
            encoded.append(bytes(part))
    # Length-prefix each part so ("ab", "c") and ("a", "bc") differ.
    return keccak(b"".join(len(p).to_bytes(4, "big") + p for p in encoded))
