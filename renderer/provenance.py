"""A token's history from the chain and IPFS alone: no daemon, no job store.

The chain says what happened (Minted, each Mutated with its entropy, each Recoloured, and each
commit naming a metadata CID: a RenderCommitted, or a record of a BatchRenderCommitted); IPFS holds
what was made (metadata, images and age layers, each metadata linked to its parent's). The renderer
commits only the newest ready generation of a token, so the generations between two commits are on
IPFS but named on-chain only through the parent links of the later commit's metadata.

`load_history` therefore walks once per commit: from the commit's CID down the parent links to
the generation just above the previous commit (whose CID the chain fixed). Each walk stands on
its own, so one forged commit leaves the generations before it reachable and checkable.
`chaos verify`, `chaos history`, the watchtower and the gallery all read a token this way.
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
    #: The commit this record was reached from: its own when `committed`, else the later commit
    #: whose metadata's parent links lead here (a dict of Canvas.commits()).
    commit: dict | None = None
    committed: bool = False
    age_layer_cid: str | None = None
    age_layer: bytes | None = None  # None when the metadata names none, or IPFS cannot serve it
    animation_cid: str | None = None  # the metadata's animation_url (renderer.animation)
    animation: bytes | None = None  # None when the metadata names none, or IPFS cannot serve it

    @property
    def provenance(self) -> dict:
        provenance = (self.metadata or {}).get("provenance") if isinstance(self.metadata, dict) else None
        return provenance if isinstance(provenance, dict) else {}


@dataclass
class TokenHistory:
    token_id: int
    events: dict[int, CanvasEvent]  # generation -> the chain event that made it
    commits: list[dict]  # Canvas.commits(): single and batched, in chain order
    records: list[GenerationRecord] = field(default_factory=list)  # one per generation reached, 0 first
    problems: list[tuple[int, str, str]] = field(default_factory=list)  # (generation, check, detail)

    def record(self, generation: int) -> GenerationRecord | None:
        return next((r for r in self.records if r.generation == generation), None)

    def commit_of(self, generation: int) -> dict | None:
        """The commit that covers `generation`: its own, or the first later one (whose walk reaches it)."""
        return next((c for c in sorted(self.commits, key=lambda c: c["generation"])
                     if c["generation"] >= generation), None)

    @property
    def committed_generation(self) -> int | None:
        return max((c["generation"] for c in self.commits), default=None)

    def owner_after(self, generation: int) -> str | None:
        """Who held the token once `generation` existed: the mint's minter, then each mutation's
        recipient (a re-colouring, an observation or a reveal changes no owner)."""
        for g in range(generation, -1, -1):
            event = self.events.get(g)
            if event is None:
                return None
            if event.kind in ("mint", "mutation"):
                return event.args["minter"] if event.kind == "mint" else event.args["to"]
        return None


def _fetch(ipfs, cid: str) -> bytes | None:
    try:
        return ipfs.cat(cid)
    except IpfsUnavailable:
        return None


def _cid_of(value) -> str | None:
    if not isinstance(value, str):
        return None
    return value.removeprefix("ipfs://") or None


def fetch_record(ipfs, generation: int, cid: str, commit: dict | None) -> GenerationRecord | None:
    """The metadata at `cid` and the image, animation and age layer it names; None when IPFS cannot
    serve the metadata."""
    data = _fetch(ipfs, cid)
    if data is None:
        return None
    try:
        metadata = json.loads(data)
    except ValueError:
        metadata = None
    record = GenerationRecord(generation, cid, data, metadata, commit=commit,
                              committed=commit is not None and commit["cid"] == cid)
    record.image_cid = _cid_of((metadata or {}).get("image") if isinstance(metadata, dict) else None)
    if record.image_cid:
        record.image_png = _fetch(ipfs, record.image_cid)
    record.animation_cid = _cid_of((metadata or {}).get("animation_url") if isinstance(metadata, dict) else None)
    if record.animation_cid:
        record.animation = _fetch(ipfs, record.animation_cid)
    layer = (record.provenance.get("memory") or {}).get("age_layer") if isinstance(
        record.provenance.get("memory"), dict) else None
    if isinstance(layer, dict) and isinstance(layer.get("cid"), str):
        record.age_layer_cid = layer["cid"]
        record.age_layer = _fetch(ipfs, layer["cid"])
    return record


def walk_commits(ipfs, commits: list[dict], problems: list) -> list[GenerationRecord]:
    """One record per generation reached: each commit, then its parent links down to the generation
    just above the previous commit. A walk stops early at bytes IPFS cannot serve, at metadata with
    no parent link, and at a CID it has already seen (a loop); what it could not reach is a problem."""
    ordered = sorted(commits, key=lambda c: c["generation"])
    records: dict[int, GenerationRecord] = {}
    previous = -1
    for commit in ordered:
        generation, cid = commit["generation"], commit["cid"]
        seen: set[str] = set()
        while cid is not None and generation > previous and cid not in seen:
            seen.add(cid)
            record = fetch_record(ipfs, generation, cid, commit)
            if record is None:
                problems.append((generation, "metadata-available",
                                 f"{cid} cannot be fetched from IPFS (reached from the commit in "
                                 f"{commit['tx_hash']})"))
                break
            records[generation] = record
            link = record.provenance.get("parent")
            cid = link if isinstance(link, str) else None
            generation -= 1
        for missing in range(previous + 1, generation + 1):
            if missing not in records and not any(p[0] == missing for p in problems):
                problems.append((missing, "reachable",
                                 f"no parent link leads to generation {missing}: the walk down from the commit "
                                 f"of generation {commit['generation']} (tx {commit['tx_hash']}) ended before it"))
        previous = commit["generation"]
    return [records[g] for g in sorted(records)]


def load_history(canvas: Canvas, ipfs, token_id: int, from_block: int = 0) -> TokenHistory:
    """Gather the token's chain events and commits, and walk each commit's metadata down its parent links."""
    events = {e.generation: e for e in canvas.events(from_block, "latest", token_id=token_id)}
    if 0 not in events:
        raise LookupError(f"token {token_id} was never minted on {canvas.address}")
    history = TokenHistory(token_id, events, canvas.commits(token_id, from_block))
    history.records = walk_commits(ipfs, history.commits, history.problems)
    return history
