"""`chaos age TOKEN`: a token's pixel-age map, from the chain and IPFS alone.

The chain's commit events (RenderCommitted, BatchRenderCommitted) name the committed generations' metadata (the generations
between two commits through the later one's parent links, renderer.provenance); the metadata names its
age layer (`provenance.memory.age_layer`, format chaos-age/1, see renderer.memory); the layer,
fetched from IPFS and checked against its CID, becomes a greyscale PNG.

`chaos age TOKEN --pixel X,Y` asks the carbon-14 probe (renderer.probe) about one pixel instead: the
generation and block that last painted it, how many times it was repainted, and the events that did.
"""

from __future__ import annotations

import json
from pathlib import Path

from .chain import Canvas, connect
from .cid import file_cid
from .errors import ChaosError
from .ipfs import Replicas
from .memory import write_age_png
from .provenance import load_history


def age_layer_of(canvas: Canvas, ipfs, token_id: int, generation: int | None = None) -> tuple[int, bytes]:
    """(generation, age-layer bytes) of the token's latest commit, or of `generation` (committed, or
    reached through a later commit's parent links)."""
    commits = canvas.commits(token_id)
    if not commits:
        raise ChaosError(f"token {token_id} has no committed render yet: run the daemon, then try again")
    commit = next((c for c in commits if c["generation"] == generation), None) if generation is not None \
        else max(commits, key=lambda c: c["generation"])
    if commit is not None:
        generation, metadata = commit["generation"], json.loads(ipfs.cat(commit["cid"]))
    else:  # between two commits: reached through the parent links of a later commit's metadata
        record = load_history(canvas, ipfs, token_id).record(generation)
        if record is None or not isinstance(record.metadata, dict):
            have = ", ".join(str(c["generation"]) for c in commits)
            raise ChaosError(f"generation {generation} of token {token_id} is not reachable from its commits "
                             f"(committed: {have}; `chaos verify {token_id}` says why)")
        metadata = record.metadata
    memory = (metadata.get("provenance") or {}).get("memory")
    if not memory:
        raise ChaosError(f"generation {generation} of token {token_id} was rendered before "
                         "mutation memory existed: it has no age layer")
    cid = memory["age_layer"]["cid"]
    layer = ipfs.cat(cid)
    if file_cid(layer) != cid:
        raise ChaosError(f"the age layer fetched for {cid} hashes to {file_cid(layer)}: the IPFS node "
                         "served other bytes")
    return generation, layer


def probe_pixel(settings, token_id: int, x: int, y: int, generation: int | None = None):
    """`chaos age TOKEN --pixel X,Y`: the probe's answer (a renderer.probe.PixelAge) for one pixel of the
    token's latest rendered generation, or of `generation`."""
    from .probe import probe_token

    canvas = Canvas(connect(settings.rpc_url, settings.rpc_timeout, settings.chain_id), settings.canvas)
    ipfs = Replicas(settings.ipfs_api, settings.ipfs_timeout)
    try:
        return probe_token(canvas, ipfs, token_id, x, y, generation, settings.start_block)
    finally:
        ipfs.close()


def write_token_age_map(settings, token_id: int, generation: int | None = None, channel: str = "age",
                        output: Path | None = None) -> Path:
    canvas = Canvas(connect(settings.rpc_url, settings.rpc_timeout, settings.chain_id), settings.canvas)
    ipfs = Replicas(settings.ipfs_api, settings.ipfs_timeout)
    try:
        generation, layer = age_layer_of(canvas, ipfs, token_id, generation)
    finally:
        ipfs.close()
    path = output or settings.out_dir / "age" / f"token-{token_id}-gen-{generation}-{channel}.png"
    return write_age_png(layer, path, channel)
