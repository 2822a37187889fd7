"""ERC-721 metadata JSON with a provenance block that chains every generation.

Marketplaces read `name`, `description`, `image`, `animation_url` (the evolution so far as an
APNG: renderer.animation), `external_url` (the token's gallery page, when a gallery URL is
configured) and `attributes`. The
`provenance` block holds everything needed to re-derive the image: the event
that caused it, the parent metadata CID (so a token's history is a hash
chain), seed, entropy, mask digest, palette, size, and the renderer and model.

Renders also record what makes each generation repeatable beyond the chain (each block is
present only when the caller gives it, so older callers' documents keep their shape):

    memory     the generation's age layer (CID, format chaos-age/1) and its parent's: renderer.memory
    telemetry  the GPU sample the stress painter used, where it came from, and the paint it
               mapped to: renderer.telemetry, renderer.painter
    phoenix    null, or why and how the render was degraded: renderer.phoenix
    colour     the pools' state and the token's pigment the palette was drawn from: renderer.colour
    congestion (mutations) the block's base fee, the threshold and the glitch strength: renderer.congestion
    observation  (observations) the observer whose signature collapsed the palette: renderer.observer
    reveal     (reveals) the revealed layer prompt and how it was blended in: renderer.sealed
    renderer.backend  the backend's name and settings (steps, guidance, dtype, ...)

The bytes are canonical JSON (sorted keys, no spaces, ASCII), so equal
metadata always has the same CID.
"""

from __future__ import annotations

import json

from . import __version__

RENDERER_NAME = "chaos-canvas-renderer"
#: A generation's kind as marketplaces show it: a mint, a 1% mutation, a re-colouring, a holder's
#: observation (its colours collapsed) or a sealed layer revealed.
KIND_LABELS = {"mint": "Mint", "mutation": "Mutation", "recolour": "Re-colouring", "observation": "Observation",
               "reveal": "Reveal"}
MUTATION_MASK_RULE = "renderer.mask.mutation_mask(entropy, width, height)"


def build_metadata(*, token_id: int, generation: int, kind: str, prompt: str, seed: str, minter: str,
                   image_cid: str, parent_cid: str | None, entropy: str | None, mask_digest: str | None,
                   mask_pixels: int, changed_pixel_fraction: float, palette: list[str], width: int, height: int,
                   model_id: str, chain_id: int, canvas: str, event: dict, memory: dict | None = None,
                   telemetry: dict | None = None, phoenix: dict | None = None, backend: dict | None = None,
                   colour: dict | None = None, congestion: dict | None = None, animation_cid: str | None = None,
                   external_url: str | None = None,
                   mask_rule: str = MUTATION_MASK_RULE, observation: dict | None = None,
                   reveal: dict | None = None) -> dict:
    """The metadata document of one generation."""
    kind_label = KIND_LABELS[kind]
    extra_attributes = []
    if telemetry is not None:
        extra_attributes.append({"trait_type": "GPU telemetry", "value": telemetry.get("source", "absent")})
    if colour is not None:
        extra_attributes.extend({"trait_type": "Crashed hue held", "value": hue} for hue in colour["crashed_held"])
    if congestion and congestion.get("strength"):
        extra_attributes.append({"trait_type": "Congestion glitch", "value": congestion["strength"],
                                 "display_type": "number"})
    if observation is not None:
        extra_attributes.append({"trait_type": "Observer", "value": observation["observer"]})
    if reveal is not None:
        extra_attributes.append({"trait_type": "Revealed layer", "value": reveal["layer_prompt"]})
    if phoenix:
        extra_attributes.append({"trait_type": "Phoenix", "value": f"Reborn ({phoenix.get('reason')})"})
    document = {
        "name": f"Chaos Canvas #{token_id}",
        "description": f"{prompt}\n\nGeneration {generation} of an evolving artwork: "
                       "every transfer redraws 1% of its pixels.",
        "image": f"ipfs://{image_cid}",
        "attributes": [
            {"trait_type": "Generation", "value": generation, "display_type": "number"},
            {"trait_type": "Kind", "value": kind_label},
            {"trait_type": "Model", "value": model_id},
            *({"trait_type": f"Palette {i + 1}", "value": colour} for i, colour in enumerate(palette)),
            *extra_attributes,
        ],
        "provenance": {
            "chain_id": chain_id,
            "canvas": canvas,
            "token_id": token_id,
            "generation": generation,
            "kind": kind,
            "parent": parent_cid,
            "prompt": prompt,
            "seed": seed,
            "minter": minter,
            "entropy": entropy,
            "mask": {"digest": mask_digest, "pixels": mask_pixels, "rule": mask_rule}
            if mask_digest is not None else None,
            "changed_pixel_fraction": changed_pixel_fraction,
            "palette": palette,
            "image": {"cid": image_cid, "width": width, "height": height, "format": "png"},
            "event": event,
            "renderer": {"name": RENDERER_NAME, "version": __version__, "model": model_id},
        },
    }
    # Marketplaces play animation_url instead of the still image, and link external_url.
    if animation_cid is not None:
        document["animation_url"] = f"ipfs://{animation_cid}"
    if external_url is not None:
        document["external_url"] = external_url
    provenance = document["provenance"]
    if backend is not None:
        provenance["renderer"]["backend"] = backend
    for key, value in (("memory", memory), ("telemetry", telemetry), ("phoenix", phoenix), ("colour", colour),
                       ("congestion", congestion), ("observation", observation),
                       ("reveal", reveal)):
        if value is not None:
            provenance[key] = value
    if "memory" in provenance and "phoenix" not in provenance:
        provenance["phoenix"] = None  # a render of this renderer says so explicitly when it was not degraded
    return document


def encode_metadata(document: dict) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def decode_metadata(data: bytes) -> dict:
    return json.loads(data)
