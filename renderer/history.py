"""A token's generations as the renderer made them: CIDs, files, pixels changed."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

from .store import JobStore


@dataclass(frozen=True)
class Generation:
    generation: int
    kind: str
    state: str
    metadata_cid: str | None
    image_cid: str | None
    metadata_path: str | None
    image_path: str | None
    changed_pixel_fraction: float | None
    block_number: int
    commit_block: int | None

    def as_summary(self, relative_to: Path) -> dict:
        """The shape `out/demo/summary.json` uses (paths relative to `relative_to`)."""
        def rel(path: str | None) -> str | None:
            return os.path.relpath(path, relative_to) if path else None

        return {"generation": self.generation, "kind": self.kind, "metadata_cid": self.metadata_cid,
                "image_cid": self.image_cid, "metadata_path": rel(self.metadata_path),
                "image_path": rel(self.image_path), "changed_pixel_fraction": self.changed_pixel_fraction,
                "committed_in_block": self.commit_block}


def token_history(store: JobStore, token_id: int) -> list[Generation]:
    return [Generation(job.generation, job.kind, job.state, job.metadata_cid, job.image_cid, job.metadata_path,
                       job.image_path, job.changed_pixel_fraction, job.block_number, job.commit_block)
            for job in store.jobs(token_id=token_id)]


def format_history(token_id: int, owner: str | None, generations: list[Generation]) -> str:
    lines = [f"token {token_id}  owner {owner or '(burnt)'}",
             f"  {'gen':>3}  {'kind':<8}  {'state':<9}  {'block':>5}  {'changed':>9}  metadata CID / image CID"]
    for g in generations:
        changed = "-" if g.changed_pixel_fraction is None else f"{g.changed_pixel_fraction:.4%}"
        lines.append(f"  {g.generation:>3}  {g.kind:<8}  {g.state:<9}  {g.block_number:>5}  {changed:>9}  "
                     f"{g.metadata_cid or '-'}")
        lines.append(f"  {'':>3}  {'':<8}  {'':<9}  {'':>5}  {'':>9}  {g.image_cid or '-'}")
    return "\n".join(lines)


def generation_dicts(generations: list[Generation]) -> list[dict]:
    return [asdict(g) for g in generations]
