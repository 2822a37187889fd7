"""`chaos pins audit`: is every CID ever committed still pinned on every endpoint?

Art on IPFS vanishes when nobody keeps it pinned. For every token, every
metadata CID the canvas ever committed (its commit events, via Canvas.commits), the
metadata of the generations between two commits (reached through the parent
links, see renderer.provenance), and the image, animation and age layer (mutation memory)
each names, must be pinned on every configured endpoint.
What is missing is pinned again, from the daemon's artefact store or, failing
that, from another endpoint that still has it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from .chain import Canvas
from .cid import file_cid
from .errors import IpfsUnavailable
from .ipfs import Replicas
from .pipeline.artefacts import age_path, animation_path
from .store import JobStore


@dataclass
class AuditReport:
    checked: int = 0  # CIDs, each on every endpoint
    missing: list[tuple[str, str]] = field(default_factory=list)  # (endpoint, cid)
    repaired: list[tuple[str, str]] = field(default_factory=list)
    unrecoverable: list[tuple[str, str]] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.unrecoverable and len(self.repaired) == len(self.missing)


def committed_cids(canvas: Canvas, store: JobStore, replicas: Replicas) -> dict[str, Path | None]:
    """Every committed metadata CID and the image and age-layer CIDs it names, with the local
    file holding each, if any."""
    local = {}
    for job in store.jobs():
        if job.metadata_cid:
            local[job.metadata_cid] = Path(job.metadata_path)
            local[job.image_cid] = Path(job.image_path)
            age = age_path(job.image_path)
            if age.exists():
                # The store knows the layer's CID for renders since schema 2; older ones are hashed here.
                local[job.age_cid or file_cid(age.read_bytes())] = age
            animation = animation_path(job.image_path)
            if animation.exists():
                local[file_cid(animation.read_bytes())] = animation
    wanted: dict[str, Path | None] = {}
    total = canvas.contract.functions.totalMinted().call()
    for token_id in range(1, total + 1):
        commits = sorted(canvas.commits(token_id, from_block=store.start_block), key=lambda c: c["generation"])
        previous = -1
        for commit in commits:
            # The commit's metadata, then its parent links down to the previous commit: the generations
            # between two commits are named on-chain only through these links, and must stay pinned too.
            cid, generation = commit["cid"], commit["generation"]
            while cid is not None and generation > previous and cid not in wanted:
                wanted[cid] = local.get(cid)
                try:
                    metadata = local[cid].read_bytes() if cid in local and local[cid].exists() else replicas.cat(cid)
                    document = json.loads(metadata)
                except (IpfsUnavailable, ValueError):
                    break  # no copy anywhere (or not metadata): the audit reports the metadata CID itself
                image = str(document.get("image", "")).removeprefix("ipfs://")
                if image:
                    wanted[image] = local.get(image)
                animation = str(document.get("animation_url", "")).removeprefix("ipfs://")
                if animation:
                    wanted[animation] = local.get(animation)
                provenance = document.get("provenance") or {}
                memory = provenance.get("memory")
                if memory:
                    wanted[memory["age_layer"]["cid"]] = local.get(memory["age_layer"]["cid"])
                cid, generation = provenance.get("parent"), generation - 1
            previous = commit["generation"]
    return wanted


def audit_pins(canvas: Canvas, store: JobStore, replicas: Replicas, repair: bool = True,
               progress=lambda message: None) -> AuditReport:
    report = AuditReport()
    wanted = committed_cids(canvas, store, replicas)
    for node in replicas.nodes:
        pinned = node.pinned()
        progress(f"{node.api}: {len(pinned)} pins; checking {len(wanted)} committed CIDs")
        for cid, path in sorted(wanted.items()):
            report.checked += 1
            if cid in pinned:
                continue
            report.missing.append((node.api, cid))
            if not repair:
                continue
            data = path.read_bytes() if path and path.exists() else _from_another(replicas, node, cid)
            if data is None:
                report.unrecoverable.append((node.api, cid))
                progress(f"{node.api}: {cid} missing and no copy found")
                continue
            node.pin(data)
            report.repaired.append((node.api, cid))
            progress(f"{node.api}: re-pinned {cid}")
    return report


def _from_another(replicas: Replicas, missing_on, cid: str) -> bytes | None:
    for node in replicas.nodes:
        if node is not missing_on:
            try:
                return node.cat(cid)
            except IpfsUnavailable:
                continue
    return None
