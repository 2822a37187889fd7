"""The congestion glitch: a busy network tears the pixels a mutation repaints.

Input: the base fee of the mutation's block, from the block header (`baseFeePerGas`), which
anyone can read; nothing on the canvas records it. The daemon reads it once per block when
it reads the block's events, and keeps it with the job like the colour inputs, together with
the threshold it was judged against (the setting `congestion_threshold_wei`, default 50 gwei).

The curve (integers only, so every machine gets the same bytes)
---------------------------------------------------------------
    strength = 0                                               if base_fee <= threshold
             = min(MAX_STRENGTH, 1 + STEPS * (base_fee - threshold) // threshold)   otherwise

so strength 1 just above the threshold, 1 + STEPS at twice the threshold, and the cap
(MAX_STRENGTH = 32) from 1 + 31/STEPS times the threshold (about 4.9x with STEPS = 8).

The glitch (applied to the mutation's proposal before `renderer.mask.apply_mask`, so exactly
the mask's pixels change: the 1% rule holds whatever the strength)
-------------------------------------------------------------------------------------------
    words    = keccak_stream(derive_key(entropy, "congestion"), height)   # one word per row
    shift_y  = (1 + strength * (w_y & 0xFF) // 256) * (+1 if w_y >> 31 else -1)   # scanline displacement
    block    = 1 + strength // 4                                                  # block smear width
    each mask pixel (y, x) takes the proposal's pixel (y, ((x - shift_y) mod W) // block * block)

A stronger base fee only moves every row further (|shift_y| grows with the strength for the
same entropy) and smears wider blocks; below the threshold nothing is drawn at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .hashing import derive_key, keccak_stream

GWEI = 10**9
DEFAULT_THRESHOLD_WEI = 50 * GWEI
MAX_STRENGTH = 32
STEPS = 8


def congestion_strength(base_fee_wei: int, threshold_wei: int) -> int:
    """The glitch strength (0..MAX_STRENGTH) of a block's base fee: the curve in the module docstring."""
    if threshold_wei <= 0:
        raise ValueError(f"the congestion threshold must be a positive number of wei, not {threshold_wei}")
    if base_fee_wei < 0:
        raise ValueError(f"a base fee cannot be negative ({base_fee_wei})")
    if base_fee_wei <= threshold_wei:
        return 0
    return min(MAX_STRENGTH, 1 + STEPS * (base_fee_wei - threshold_wei) // threshold_wei)


@dataclass(frozen=True)
class Congestion:
    """The base fee of one block and the glitch it draws: a render input like the colour inputs."""

    base_fee_wei: int
    threshold_wei: int

    @property
    def strength(self) -> int:
        return congestion_strength(self.base_fee_wei, self.threshold_wei)

    def to_provenance(self) -> dict:
        # Wei as decimal strings: JSON readers in other languages lose digits past 2**53.
        return {"base_fee_wei": str(self.base_fee_wei), "threshold_wei": str(self.threshold_wei),
                "strength": self.strength, "rule": "renderer.congestion"}

    @classmethod
    def from_provenance(cls, block: dict | None) -> Congestion | None:
        if not block:
            return None
        congestion = cls(int(block["base_fee_wei"]), int(block["threshold_wei"]))
        if "strength" in block and int(block["strength"]) != congestion.strength:
            raise ValueError(f"congestion strength {block['strength']} is not the curve's {congestion.strength} "
                             f"for base fee {block['base_fee_wei']} wei over threshold {block['threshold_wei']} wei")
        return congestion


def row_shifts(entropy: bytes, height: int, strength: int) -> np.ndarray:
    """Each row's signed horizontal displacement (int64, one per row); all zero at strength 0."""
    if strength <= 0:
        return np.zeros(height, dtype=np.int64)
    words = keccak_stream(derive_key(entropy, "congestion"), height).astype(np.int64)
    magnitude = 1 + strength * (words & 0xFF) // 256
    return np.where(words >> 31, magnitude, -magnitude)


def glitch(proposal: np.ndarray, mask: np.ndarray, entropy: bytes, strength: int) -> np.ndarray:
    """`proposal` with its mask pixels displaced and smeared (a copy); unchanged at strength 0."""
    if strength <= 0:
        return proposal
    height, width, channels = proposal.shape
    rows, cols = np.divmod(mask, width)
    block = 1 + strength // 4
    source_cols = ((cols - row_shifts(entropy, height, strength)[rows]) % width) // block * block
    out = proposal.reshape(-1, channels).copy()
    out[mask] = proposal[rows, source_cols]
    return out.reshape(height, width, channels)


def read_base_fee(w3, block_number: int) -> int:
    """The block header's base fee (0 for a chain before EIP-1559, which has none)."""
    return int(w3.eth.get_block(block_number).get("baseFeePerGas") or 0)
