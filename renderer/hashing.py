"""Keccak-256 streams: the one source of randomness every render draws from.

Everything a render needs that looks random (lattice values, mask draws,
palette hues) is cut from `keccak256(key || be32(counter))` blocks, so anyone
with the same key recomputes the same numbers on any machine, in any language.
"""

from __future__ import annotations

import numpy as np
from eth_hash.auto import keccak


def keccak_stream(key: bytes, count: int) -> np.ndarray:
    """The first `count` big-endian uint32 words of keccak256(key || be32(i)), i = 0, 1, ..."""
    blocks = (count + 7) // 8
    raw = b"".join(keccak(key + i.to_bytes(4, "big")) for i in range(blocks))
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
