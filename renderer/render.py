"""The render stage: a job's inputs in, image, age layer and metadata bytes out.

`render` is a pure function of its inputs (the event, the parent's image, age layer and
metadata CID, the backend, the telemetry reading, the phoenix degradation): it touches no
chain, no store, no GPU sensor and no network, so anyone holding the same inputs gets the
same bytes. The steps of a generation:

    mint:      backend.create -> stress painter                      -> fresh age layer
    mutation:  backend.propose_mutation -> stress painter -> crash split -> memory blend over
               the mask -> renderer.mask.apply_mask (exactly the mask changes) -> age layer advanced
    recolour:  the parent graded toward the new palette -> crash split -> age layer carried

Every kind draws with `renderer.colour.render_palette`: the minter's base palette pulled toward
the token's pigment and the pool prices at the event's block (when the pools are known).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .backends import Backend
from .chain import CanvasEvent
from .backends.grade import tint
from .cid import file_cid
from .colour import RECOLOUR_STRENGTH, ColourInputs, channel_split, render_palette
from .hashing import derive_key
from .mask import apply_mask, changed_pixel_fraction, mask_digest, mutation_mask
from .memory import FORMAT as AGE_FORMAT
from .memory import AgeLayer, blend
from .metadata import build_metadata, encode_metadata
from .painter import paint, paint_for
from .palette import base_palette, to_hex
from .phoenix import Degradation
from .png import decode_png, encode_png
from .telemetry import ABSENT, Reading


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
    #: The parent's age layer (`renderer.memory`, format chaos-age/1). None only for a parent
    #: rendered before mutation memory existed: it is then read as never mutated.
    age_layer: bytes | None = None


@dataclass(frozen=True)
class Rendered:
    image_png: bytes
    image_cid: str
    metadata: bytes
    metadata_cid: str
    changed_pixel_fraction: float
    #: The generation's age layer, to pin beside the image (its CID is in the metadata).
    age_layer: bytes = b""
    age_layer_cid: str = ""
    #: The phoenix reason ("temperature", "cuda-oom") when the render was degraded.
    phoenix: str | None = None


def _backend_for(backend: Backend, degrade: Degradation | None) -> Backend:
    """The backend a degraded render uses: fewer steps where the backend has steps."""
    if degrade is None or not hasattr(backend, "degraded"):
        return backend
    return backend.degraded(degrade.steps_divisor)


def _propose(backend: Backend, previous: np.ndarray, prompt: str, seed: bytes, entropy: bytes, palette,
             mask: np.ndarray, degrade: Degradation | None) -> np.ndarray:
    if degrade is None:
        return backend.propose_mutation(previous, prompt, seed, entropy, palette, mask)
    # Smaller: propose on the parent subsampled by 2**L, then repeat pixels back to full size,
    # so the mask (and the pixels that change) are the full-size mask.
    step = 1 << degrade.scale_shift
    height, width, _ = previous.shape
    small = np.ascontiguousarray(previous[::step, ::step])
    rows, cols = np.divmod(mask, width)
    small_mask = np.unique((rows // step) * small.shape[1] + cols // step)
    proposal = backend.propose_mutation(small, prompt, seed, entropy, palette, small_mask)
    return np.repeat(np.repeat(proposal, step, axis=0), step, axis=1)[:height, :width]


def _parent_layer(parent: Parent, previous: np.ndarray, event: CanvasEvent) -> AgeLayer:
    height, width, _ = previous.shape
    if parent.age_layer is None:
        return AgeLayer.fresh(width, height, event.generation - 1)
    layer = AgeLayer.decode(parent.age_layer)
    if layer.shape != (height, width):
        raise ValueError(f"the parent's age layer is {layer.shape[1]}x{layer.shape[0]}, "
                         f"its image {width}x{height}: they are not of the same generation")
    if layer.generation >= event.generation:
        raise ValueError(f"the parent's age layer is of generation {layer.generation}, "
                         f"not older than generation {event.generation}")
    return layer


def _recolour(previous: np.ndarray, palette, colour: ColourInputs | None) -> np.ndarray:
    """A re-colouring: the parent's whole picture graded toward the new palette, split if crashed."""
    image = tint(previous, palette, RECOLOUR_STRENGTH)
    return channel_split(image, len(colour.crashed_held) if colour else 0)


def render(event: CanvasEvent, origin: Origin, parent: Parent | None, backend: Backend, *,
           chain_id: int, canvas: str, size: int, telemetry: Reading | None = None,
           degrade: Degradation | None = None, colour: ColourInputs | None = None) -> Rendered:
    palette = render_palette(base_palette(origin.minter), colour)
    crashed = len(colour.crashed_held) if colour else 0
    reading = telemetry or ABSENT
    stress = paint_for(reading.sample)
    active = _backend_for(backend, degrade)
    prompt = degrade.prompt if degrade else origin.prompt
    parent_layer_cid = None
    entropy = digest = None
    mask_pixels = 0
    if event.kind == "mint":
        side = degrade.mint_size(size) if degrade else size
        image = active.create(prompt, origin.seed, palette, side, side)
        image = channel_split(paint(image, stress, derive_key(origin.seed, "strokes")), crashed)
        layer = AgeLayer.fresh(side, side, event.generation)
        fraction = 1.0
    else:
        if parent is None:
            raise ValueError(f"generation {event.generation} of token {event.token_id} needs its parent generation")
        previous = decode_png(parent.image_png)
        height, width, _ = previous.shape
        parent_layer = _parent_layer(parent, previous, event)
        parent_layer_cid = file_cid(parent.age_layer) if parent.age_layer is not None else None
        if event.kind == "recolour":
            # A re-colouring repaints no pixel's history: the age layer carries over unchanged.
            image = _recolour(previous, palette, colour)
            layer = parent_layer.carry(event.generation)
        else:
            entropy = bytes.fromhex(event.args["entropy"][2:])
            mask = mutation_mask(entropy, width, height)
            proposal = _propose(active, previous, prompt, origin.seed, entropy, palette, mask, degrade)
            proposal = paint(proposal, stress, derive_key(origin.seed, entropy, "strokes"))
            proposal = channel_split(proposal, crashed)
            proposal = blend(previous, proposal, parent_layer, mask, event.generation)
            image = apply_mask(previous, proposal, mask)
            layer = parent_layer.advance(mask, event.generation)
            digest, mask_pixels = mask_digest(mask), len(mask)
        fraction = changed_pixel_fraction(previous, image)
    image_png = encode_png(np.ascontiguousarray(image))
    image_cid = file_cid(image_png)
    age_layer = layer.encode()
    age_layer_cid = file_cid(age_layer)
    phoenix = None
    if degrade:
        phoenix = {**degrade.to_provenance(), "requested_size": size}
    document = build_metadata(
        token_id=event.token_id, generation=event.generation, kind=event.kind, prompt=origin.prompt,
        seed="0x" + origin.seed.hex(), minter=origin.minter, image_cid=image_cid,
        parent_cid=parent.metadata_cid if parent else None, entropy=event.args.get("entropy"),
        mask_digest=digest, mask_pixels=mask_pixels, changed_pixel_fraction=fraction,
        palette=[to_hex(c) for c in palette], width=image.shape[1], height=image.shape[0],
        model_id=backend.model_id, chain_id=chain_id, canvas=canvas,
        event={"block_number": event.block_number, "block_hash": event.block_hash,
               "tx_hash": event.tx_hash, "log_index": event.log_index},
        memory={"age_layer": {"cid": age_layer_cid, "format": AGE_FORMAT, "generation": layer.generation},
                "parent_age_layer": parent_layer_cid, "rule": "renderer.memory"},
        telemetry={**reading.to_provenance(), "paint": stress.to_json() if stress else None,
                   "rule": "renderer.painter"},
        phoenix=phoenix,
        backend={"name": backend.name, "settings": dict(getattr(active, "settings", {}))},
        colour=colour.to_provenance() if colour else None)
    metadata = encode_metadata(document)
    return Rendered(image_png, image_cid, metadata, file_cid(metadata), fraction, age_layer, age_layer_cid,
                    degrade.reason if degrade else None)


def recorded_inputs(provenance: dict) -> dict:
    """The keyword inputs of `render` that a metadata file records beyond the chain's events:
    telemetry, degrade, size and colour inputs. `render(event, origin, parent, backend, chain_id=..., canvas=...,
    **recorded_inputs(provenance))` repeats the render (the parent's age layer comes from the
    parent's files, or from `renderer.memory.replay_layer` and the chain)."""
    phoenix = provenance.get("phoenix")
    image = provenance.get("image") or {}
    size = phoenix["requested_size"] if phoenix else image.get("width", 256)
    return {"telemetry": Reading.from_provenance(provenance.get("telemetry")),
            "degrade": Degradation.from_provenance(phoenix), "size": size,
            "colour": ColourInputs.from_provenance(provenance.get("colour"))}
