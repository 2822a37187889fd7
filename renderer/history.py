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


# ------------------------------------------------------- from the chain and IPFS alone


def chain_history_rows(history) -> list[dict]:
    """One row per generation of a `provenance.TokenHistory`, for the table and for --json."""
    from .mask import changed_pixel_fraction
    from .png import decode_png

    rows = []
    previous_image = None
    for record in history.records:
        event = history.events.get(record.generation)
        image = decode_png(record.image_png) if record.image_png else None
        changed = None
        if image is not None and previous_image is not None and image.shape == previous_image.shape:
            changed = changed_pixel_fraction(previous_image, image)
        elif record.generation == 0:
            changed = 1.0
        rows.append({"generation": record.generation, "kind": event.kind if event else None,
                     "block": event.block_number if event else None, "owner": history.owner_after(record.generation),
                     "metadata_cid": record.metadata_cid, "image_cid": record.image_cid,
                     "committed": record.committed, "changed_pixel_fraction": changed,
                     "palette": record.provenance.get("palette", [])})
        previous_image = image
    return rows


def format_chain_history(token_id: int, rows: list[dict]) -> str:
    lines = [f"token {token_id}: {len(rows)} generation(s)",
             f"{'gen':>4} {'kind':<9} {'block':>6} {'owner':<42} {'changed':>9} {'palette':<39} CIDs (metadata, image)"]
    for row in rows:
        changed = "-" if row["changed_pixel_fraction"] is None else f"{row['changed_pixel_fraction']:.4%}"
        mark = "" if row["committed"] else "  (not committed: reached through a later commit's parent links)"
        lines.append(f"{row['generation']:>4} {row['kind'] or '?':<9} {row['block'] or '-':>6} "
                     f"{row['owner'] or '-':<42} {changed:>9} {' '.join(row['palette']):<39} "
                     f"{row['metadata_cid']}{mark}")
        lines.append(f"{'':>4} {'':<9} {'':>6} {'':<42} {'':>9} {'':<39} {row['image_cid'] or '-'}")
    return "\n".join(lines)


def write_evolution(history, path: Path, frame_ms: int = 700) -> Path | None:
    """The generations as an animated PNG (APNG: lossless, unlike GIF's 256 colours)."""
    from PIL import Image

    from .png import decode_png

    frames = [Image.fromarray(decode_png(r.image_png)) for r in history.records if r.image_png]
    if not frames:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    frames[0].save(path, format="PNG", save_all=True, append_images=frames[1:], duration=frame_ms, loop=0)
    return path
