"""A token's history from the chain and IPFS alone: no daemon, no job store.

The chain says what happened (Minted, each Mutated with its entropy, each
RenderCommitted CID); IPFS holds what was made (metadata and images, linked
child to parent). `load_history` gathers both, walking the parent links down
from the latest commit, so `chaos verify` and `chaos history` can check and
show them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from .chain import Canvas, CanvasEvent
from .errors import IpfsUnavailable


@dataclass
class GenerationRecord:
    generation: int
    metadata_cid: str
    metadata_bytes: bytes
    metadata: dict | None  # None when the bytes are not JSON
    image_cid: str | None = None
    image_png: bytes | None = None
    committed: bool = False

    @property
    def provenance(self) -> dict:
        return (self.metadata or {}).get("provenance") or {}


@dataclass
class TokenHistory:
    token_id: int
    events: dict[int, CanvasEvent]  # generation -> the chain event that made it
    commits: list[dict]  # RenderCommitted, in chain order
    records: list[GenerationRecord] = field(default_factory=list)  # generation 0 first
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # (generation, check, detail)

    def record(self, generation: int) -> GenerationRecord | None:
        return next((r for r in self.records if r.generation == generation), None)

    def owner_after(self, generation: int) -> str | None:
        """Who held the token once `generation` existed: the mint's minter, then each mutation's
        recipient (a re-colouring changes no owner)."""
        for g in range(generation, -1, -1):
            event = self.events.get(g)
            if event is None:
                return None
            if event.kind != "recolour":
                return event.args["minter"] if event.kind == "mint" else event.args["to"]
        return None


def _fetch(ipfs, cid: str) -> bytes | None:
    try:
        return ipfs.cat(cid)
    except IpfsUnavailable:
        return None


def load_history(canvas: Canvas, ipfs, token_id: int, from_block: int = 0) -> TokenHistory:
    """Gather the token's chain events and walk its metadata from the latest commit back to generation 0."""
    events = {e.generation: e for e in canvas.events(from_block, "latest", token_id=token_id)}
    if 0 not in events:
        raise LookupError(f"token {token_id} was never minted on {canvas.address}")
    commits = canvas.commits(token_id, from_block)
    history = TokenHistory(token_id, events, commits)
    if not commits:
        return history
    committed_cids = {c["cid"] for c in commits}
    cid: str | None = commits[-1]["cid"]
    expected_generation = commits[-1]["generation"]
    seen: set[str] = set()
    walked: list[GenerationRecord] = []
    while cid is not None and cid not in seen:
        seen.add(cid)
        data = _fetch(ipfs, cid)
        if data is None:
            history.problems.append((expected_generation, "metadata-available", f"{cid} cannot be fetched from IPFS"))
            break
        try:
            metadata = json.loads(data)
        except ValueError:
            metadata = None
        record = GenerationRecord(expected_generation, cid, data, metadata, committed=cid in committed_cids)
        image_cid = str((metadata or {}).get("image", "")).removeprefix("ipfs://") or None
        record.image_cid = image_cid
        if image_cid:
            record.image_png = _fetch(ipfs, image_cid)
        walked.append(record)
        cid = record.provenance.get("parent")
        expected_generation -= 1
    history.records = sorted(walked, key=lambda r: r.generation)
    return history
