"""The artefact folder: where a job's files live, written so a crash never leaves half a file.

token-<id>/gen-<n>.png      the image
token-<id>/gen-<n>.age      its age layer (renderer.memory), beside the image
token-<id>/gen-<n>.apng     the evolution so far (renderer.animation): the metadata's animation_url
token-<id>/gen-<n>.json     the metadata, written last: a job is "rendered" once it exists
"""

from __future__ import annotations

import json
from pathlib import Path

from ..render import Parent, Rendered
from ..store import Job


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    partial.write_bytes(data)
    partial.replace(path)


def age_path(image_path: str | Path) -> Path:
    """The age layer lives beside its image: gen-N.age next to gen-N.png."""
    return Path(image_path).with_suffix(".age")


def animation_path(image_path: str | Path) -> Path:
    """The animation lives beside its image: gen-N.apng next to gen-N.png."""
    return Path(image_path).with_suffix(".apng")


class Artefacts:
    def __init__(self, root: Path):
        self.root = Path(root)

    def paths(self, token_id: int, generation: int) -> tuple[Path, Path]:
        folder = self.root / f"token-{token_id}"
        return folder / f"gen-{generation}.png", folder / f"gen-{generation}.json"

    def write(self, job: Job, rendered: Rendered) -> dict:
        """Write a render's files, metadata last; returns what the store records about them."""
        image_path, metadata_path = self.paths(job.token_id, job.generation)
        write_atomically(age_path(image_path), rendered.age_layer)
        if rendered.animation:
            write_atomically(animation_path(image_path), rendered.animation)
        write_atomically(image_path, rendered.image_png)
        write_atomically(metadata_path, rendered.metadata)
        return {"image_path": str(image_path), "metadata_path": str(metadata_path), "image_cid": rendered.image_cid,
                "metadata_cid": rendered.metadata_cid, "age_cid": rendered.age_layer_cid or None,
                "changed_pixel_fraction": rendered.changed_pixel_fraction}

    @staticmethod
    def parent(job: Job) -> Parent:
        """A rendered job as the parent of its next generation."""
        age, animation = age_path(job.image_path), animation_path(job.image_path)
        # A parent rendered before mutation memory (or animations) existed has no layer (animation):
        # read as never mutated (its image starts the animation).
        return Parent(Path(job.image_path).read_bytes(), job.metadata_cid, age.read_bytes() if age.exists() else None,
                      animation.read_bytes() if animation.exists() else None)

    @staticmethod
    def pin_list(job: Job) -> list[tuple[Path, str]]:
        """What a job pins, metadata last: the age layer and the animation (when it has them), the image,
        the metadata."""
        age_cid = job.age_cid or _age_cid_from_metadata(job)
        files = [(age_path(job.image_path), age_cid)] if age_cid else []
        if animation_path(job.image_path).exists():
            animation_url = json.loads(Path(job.metadata_path).read_bytes()).get("animation_url")
            if isinstance(animation_url, str):
                files.append((animation_path(job.image_path), animation_url.removeprefix("ipfs://")))
        return [*files, (Path(job.image_path), job.image_cid), (Path(job.metadata_path), job.metadata_cid)]


def _age_cid_from_metadata(job: Job) -> str | None:
    """A job rendered before the store kept the age layer's CID (schema 1): its metadata names it."""
    if not age_path(job.image_path).exists():
        return None
    memory = (json.loads(Path(job.metadata_path).read_bytes()).get("provenance") or {}).get("memory")
    return memory["age_layer"]["cid"] if memory else None
