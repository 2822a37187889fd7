"""The mutation mask: which 1% of the pixels a mutation redraws.

Anyone can recompute a mask from the `Mutated` event's 32-byte entropy and the
image size, with no other input:

    P      = width * height
    n      = max(1, P // 100)                       # 655 pixels at 256 x 256
    words  = big-endian uint32 words of keccak256(entropy || be32(c)), c = 0, 1, ...
    limit  = 2**32 - (2**32 % P)                    # rejection sampling: no modulo bias
    each word w < limit proposes pixel index w % P  # row-major: index = y * width + x
    the mask is the first n distinct proposed indices

The mask digest recorded in metadata is keccak256 of the mask's indices,
sorted ascending, each as a big-endian uint32.
"""

from __future__ import annotations

import numpy as np
from eth_hash.auto import keccak

from .hashing import keccak_stream

MASK_FRACTION_DIVISOR = 100


def mask_size(width: int, height: int) -> int:
    return max(1, (width * height) // MASK_FRACTION_DIVISOR)


def mutation_mask(entropy: bytes, width: int, height: int) -> np.ndarray:
    """Sorted flat pixel indices (row-major) of the mask for `entropy`."""
    if len(entropy) != 32:
        raise ValueError(f"mutation entropy must be 32 bytes, got {len(entropy)}")
    pixels = width * height
    wanted = mask_size(width, height)
    limit = 2**32 - (2**32 % pixels)
    chosen: dict[int, None] = {}  # insertion-ordered set
    drawn = 0
    while len(chosen) < wanted:
        # Draw in growing batches; the stream is the same however it is sliced.
        batch = keccak_stream(entropy, drawn + 2 * wanted)[drawn:]
        drawn += len(batch)
        for word in batch.tolist():
            if word < limit:
                chosen.setdefault(word % pixels)
                if len(chosen) == wanted:
                    break
    return np.array(sorted(chosen), dtype=np.int64)


def mask_digest(indices: np.ndarray) -> str:
    """0x-prefixed keccak256 of the sorted indices as big-endian uint32."""
    return "0x" + keccak(np.sort(indices).astype(">u4").tobytes()).hex()


def apply_mask(parent: np.ndarray, proposal: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """The child image: `parent` with the mask's pixels taken from `proposal`.

    Every pixel outside the mask is the parent's, bit for bit; every pixel in it
    differs from the parent's (where the proposal repeats the parent, the lowest
    bit of the red channel is flipped), so a mutation changes exactly its mask.
    """
    if parent.shape != proposal.shape:
        raise ValueError(f"proposal shape {proposal.shape} differs from parent {parent.shape}")
    height, width, channels = parent.shape
    child = parent.reshape(-1, channels).copy()
    new = proposal.reshape(-1, channels)[indices].copy()
    unchanged = np.all(new == child[indices], axis=1)
    new[unchanged, 0] ^= 1
    child[indices] = new
    return child.reshape(height, width, channels)


def changed_pixel_fraction(parent: np.ndarray, child: np.ndarray) -> float:
    """Share of pixels whose value differs between two images of one size."""
    if parent.shape != child.shape:
        raise ValueError(f"images differ in size: {parent.shape} vs {child.shape}")
    changed = np.any(parent != child, axis=-1)
    return float(changed.sum()) / float(changed.size)


def changed_indices(parent: np.ndarray, child: np.ndarray) -> np.ndarray:
    """Sorted flat indices of the pixels that differ between two images."""
    return np.flatnonzero(np.any(parent != child, axis=-1)).astype(np.int64)
