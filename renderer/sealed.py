"""Sealed, time-locked layers: a secret layer prompt committed now, painted in after it unlocks.

The holder seals `commitment = keccak256(abi.encode(string layerPrompt, bytes32 salt))` with an
unlock time (`ChaosCanvas.seal`); the secret stays off-chain (`chaos seal` keeps it in a file under
--out). From the unlock time, anyone holding the secret may `reveal` it: the canvas checks it
against the commitment, draws a generation and emits `Revealed(tokenId, generation, layerPrompt,
entropy)`, with `entropy = keccak256(abi.encode(prevrandao, tokenId, generation, salt))`.

The "reveal" render (integers only, so every machine gets the same bytes)
-------------------------------------------------------------------------
    layer  = backend.create(layerPrompt, seed = derive_key(token seed, entropy, "layer"),
                            palette of the generation, parent's width, height)
    words  = keccak_stream(derive_key("reveal-mask", entropy), 3)
    centre = (words[0] % width, words[1] % height)
    radius = min(width, height) * (24 + words[2] % 16) // 100       # 24..39% of the short side
    d2     = squared distance of a pixel's centre from the mask's centre
    alpha  = min(REVEAL_ALPHA, REVEAL_ALPHA * 2 * (radius^2 - d2) // radius^2)   where d2 < radius^2, else 0
    out    = (parent * (256 - alpha) + layer * alpha + 128) >> 8

So the layer surfaces as a disc (a solid core out to radius / sqrt 2, feathered to nothing at the
rim) whose place and size the reveal's block chooses; every pixel outside the disc is the parent's,
bit for bit. The mask (pixels with alpha > 0) is recorded by digest, like a mutation's.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from eth_abi import encode
from web3 import Web3

from .hashing import derive_key, keccak, keccak_stream

#: The strongest share of the layer in the reveal's disc (of 256).
REVEAL_ALPHA = 208
MASK_RULE = "renderer.sealed.reveal_weights(entropy, width, height)"


def commitment_of(layer_prompt: str, salt: bytes) -> bytes:
    """keccak256(abi.encode(string layerPrompt, bytes32 salt)), as `ChaosCanvas.reveal` checks it."""
    if len(salt) != 32:
        raise ValueError(f"a salt is 32 bytes, not {len(salt)}")
    return keccak(encode(["string", "bytes32"], [layer_prompt, bytes(salt)]))


def reveal_weights(entropy: bytes, width: int, height: int) -> np.ndarray:
    """The (height, width) int32 alpha of the revealed layer, 0..REVEAL_ALPHA (see the module's rule)."""
    if len(entropy) != 32:
        raise ValueError(f"reveal entropy must be 32 bytes, got {len(entropy)}")
    words = [int(w) for w in keccak_stream(derive_key("reveal-mask", entropy), 3)]
    cx, cy = words[0] % width, words[1] % height
    radius = max(1, min(width, height) * (24 + words[2] % 16) // 100)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.int64)
    d2 = (xs - cx) ** 2 + (ys - cy) ** 2
    r2 = radius * radius
    alpha = np.minimum(REVEAL_ALPHA, REVEAL_ALPHA * 2 * np.maximum(r2 - d2, 0) // r2)
    return alpha.astype(np.int32)


def reveal_mask(weights: np.ndarray) -> np.ndarray:
    """Sorted flat pixel indices (row-major) the reveal may paint: where alpha > 0."""
    return np.flatnonzero(weights.reshape(-1) > 0)


def reveal_blend(parent: np.ndarray, layer: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The parent with the layer blended in by `weights` (uint8, parent's shape)."""
    if parent.shape != layer.shape:
        raise ValueError(f"the revealed layer is {layer.shape}, the parent {parent.shape}")
    a = weights[..., None]
    out = (parent.astype(np.int32) * (256 - a) + layer.astype(np.int32) * a + 128) >> 8
    return np.clip(out, 0, 255).astype(np.uint8)


def layer_seed(seed: bytes, entropy: bytes) -> bytes:
    """The seed the backend draws the revealed layer from."""
    return derive_key(seed, entropy, "layer")


# ------------------------------------------------------------------------- the secret


@dataclass(frozen=True)
class SealSecret:
    """What `chaos seal` keeps so that `chaos reveal` can reveal: never on-chain before the reveal."""

    chain_id: int
    canvas: str
    token_id: int
    layer_prompt: str
    salt: str  # 0x hex, 32 bytes
    commitment: str  # 0x hex
    unlock_at: int

    @classmethod
    def new(cls, chain_id: int, canvas: str, token_id: int, layer_prompt: str, unlock_at: int) -> SealSecret:
        salt = os.urandom(32)
        return cls(chain_id, Web3.to_checksum_address(canvas), token_id, layer_prompt, "0x" + salt.hex(),
                   "0x" + commitment_of(layer_prompt, salt).hex(), unlock_at)

    @property
    def salt_bytes(self) -> bytes:
        return bytes.fromhex(self.salt.removeprefix("0x"))


def secret_path(out_dir: Path, chain_id: int, canvas: str, token_id: int) -> Path:
    return Path(out_dir) / "seal-secrets" / f"{chain_id}-{Web3.to_checksum_address(canvas)}-token-{token_id}.json"


def save_secret(out_dir: Path, secret: SealSecret) -> Path:
    """Write the secret (owner-only permissions) before the seal is sent, so a crash cannot lose it."""
    path = secret_path(out_dir, secret.chain_id, secret.canvas, secret.token_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(secret), handle, indent=2)
    os.replace(temporary, path)
    return path


def load_secret(out_dir: Path, chain_id: int, canvas: str, token_id: int) -> tuple[SealSecret, Path] | None:
    path = secret_path(out_dir, chain_id, canvas, token_id)
    if not path.is_file():
        return None
    return SealSecret(**json.loads(path.read_text())), path
