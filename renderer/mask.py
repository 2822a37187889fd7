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
    drawn = 2 * wanted
    while True:
        # The stream is the same however long it is drawn: draw more until enough distinct pixels.
        words = keccak_stream(entropy, drawn).astype(np.int64)
        proposed = words[words < limit] % pixels
        distinct, first_seen = np.unique(proposed, return_index=True)
        if len(distinct) >= wanted:
            return np.sort(proposed[np.sort(first_seen)[:wanted]])
        drawn *= 2


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
    changed = _changed(parent, child)
    return float(np.count_nonzero(changed)) / float(changed.size)


def changed_indices(parent: np.ndarray, child: np.ndarray) -> np.ndarray:
    """Sorted flat indices of the pixels that differ between two images."""
    return np.flatnonzero(_changed(parent, child)).astype(np.int64)


def _changed(parent: np.ndarray, child: np.ndarray) -> np.ndarray:
    """(H, W) bool: the pixel differs in some channel (channels OR-ed one by one: a reduction
    over a 3-wide last axis is ten times slower)."""
    differs = parent != child
    changed = differs[..., 0].copy()
    for channel in range(1, differs.shape[-1]):
        changed |= differs[..., channel]
    return changed
