"""The render stage: a job's inputs in, image and metadata bytes out.

`render` is a pure function of its inputs (the event, the parent's image and
metadata CID, the backend): it touches no chain, no store and no network, so
anyone holding the same inputs gets the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .backends import Backend
from .chain import CanvasEvent
from .cid import file_cid
from .mask import apply_mask, changed_pixel_fraction, mask_digest, mutation_mask
from .metadata import build_metadata, encode_metadata
from .palette import base_palette, to_hex
from .png import decode_png, encode_png


@dataclass(frozen=True)
class Origin:
    """What a token was born with (from its Minted event); every generation needs it."""

    prompt: str
    seed: bytes
    minter: str

    @classmethod
    def from_mint(cls, event: CanvasEvent) -> Origin:
        return cls(event.args["prompt"], bytes.fromhex(event.args["seed"][2:]), event.args["minter"])


@dataclass(frozen=True)
class Parent:
    image_png: bytes
    metadata_cid: str


@dataclass(frozen=True)
class Rendered:
    image_png: bytes
    image_cid: str
    metadata: bytes
    metadata_cid: str
    changed_pixel_fraction: float


def render(event: CanvasEvent, origin: Origin, parent: Parent | None, backend: Backend, *,
           chain_id: int, canvas: str, size: int) -> Rendered:
    palette = base_palette(origin.minter)
    if event.kind == "mint":
        image = backend.create(origin.prompt, origin.seed, palette, size, size)
        entropy = digest = None
        fraction, mask_pixels = 1.0, 0
    else:
        if parent is None:
            raise ValueError(f"a mutation of token {event.token_id} needs its parent generation")
        previous = decode_png(parent.image_png)
        height, width, _ = previous.shape
        entropy = bytes.fromhex(event.args["entropy"][2:])
        mask = mutation_mask(entropy, width, height)
        proposal = backend.propose_mutation(previous, origin.prompt, origin.seed, entropy, palette, mask)
        image = apply_mask(previous, proposal, mask)
        digest, mask_pixels = mask_digest(mask), len(mask)
        fraction = changed_pixel_fraction(previous, image)
    image_png = encode_png(np.ascontiguousarray(image))
    image_cid = file_cid(image_png)
    document = build_metadata(
        token_id=event.token_id, generation=event.generation, kind=event.kind, prompt=origin.prompt,
        seed="0x" + origin.seed.hex(), minter=origin.minter, image_cid=image_cid,
        parent_cid=parent.metadata_cid if parent else None, entropy=event.args.get("entropy"),
        mask_digest=digest, mask_pixels=mask_pixels, changed_pixel_fraction=fraction,
        palette=[to_hex(c) for c in palette], width=image.shape[1], height=image.shape[0],
        model_id=backend.model_id, chain_id=chain_id, canvas=canvas,
        event={"block_number": event.block_number, "block_hash": event.block_hash,
               "tx_hash": event.tx_hash, "log_index": event.log_index})
    metadata = encode_metadata(document)
    return Rendered(image_png, image_cid, metadata, file_cid(metadata), fraction)
