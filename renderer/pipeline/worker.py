"""Render and pin one job: the work a render worker does, in this process or on a Ray actor.

A task carries everything the render needs (the event, the token's mint, the
parent's bytes and CID), so a worker needs no access to the store or the
artefact folder, and rendering the same task twice gives the same bytes: a
retried or duplicated task is harmless, and content addressing makes its
pins idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..chain import CanvasEvent
from ..colour import ColourInputs
from ..congestion import Congestion
from ..errors import CidMismatch
from ..phoenix import PhoenixPolicy
from ..render import Origin, Parent, Rendered, render_with_phoenix


@dataclass(frozen=True)
class RenderTask:
    event: CanvasEvent
    origin: Origin
    parent: Parent | None
    chain_id: int
    canvas: str
    size: int
    #: The metadata's external_url (the token's gallery page), or None when no gallery URL is set.
    external_url: str | None = None

    @property
    def key(self) -> tuple[int, int]:
        return (self.event.token_id, self.event.generation)


def render_task(task: RenderTask, backend, *, telemetry, policy: PhoenixPolicy) -> Rendered:
    """The render of one task; `telemetry` is the worker's own source (its GPU's state)."""
    return render_with_phoenix(task.event, task.origin, task.parent, backend, policy=policy,
                               telemetry=telemetry.sample(), chain_id=task.chain_id, canvas=task.canvas,
                               size=task.size, colour=ColourInputs.from_provenance(task.event.colour),
                               congestion=Congestion.from_provenance(task.event.congestion),
                               external_url=task.external_url)


def pin_checked(pinner, files: list[tuple[str, bytes, str]]) -> None:
    """Pin a job's (label, bytes, expected CID) files together, in order (one request per endpoint: see
    `renderer.ipfs`); every CID a node reports is checked against the bytes', and those against the one
    computed when the job was rendered. Raises, and the job stays unpinned, unless all of them match."""
    pinned = pinner.pin_many([data for _, data, _ in files])
    for (label, _, expected), cid in zip(files, pinned):
        if cid != expected:
            raise CidMismatch(f"{label} pinned as {cid}, not the {expected} computed when it was rendered")


def pin_jobs(pinner, jobs: list[list[tuple[str, bytes, str]]]) -> list[CidMismatch | None]:
    """Pin several jobs' files in one request per endpoint (the node's cost per request is worth sharing);
    per job, None or the CidMismatch that refuses it. A mismatch is rare (a file changed on disk, a broken
    node), so only then are the jobs pinned again one by one, to tell which one it was."""
    try:
        pin_checked(pinner, [file for files in jobs for file in files])
        return [None] * len(jobs)
    except CidMismatch as exc:
        if len(jobs) == 1:
            return [exc]
    outcomes: list[CidMismatch | None] = []
    for files in jobs:
        try:
            pin_checked(pinner, files)
            outcomes.append(None)
        except CidMismatch as exc:
            outcomes.append(exc)
    return outcomes


def rendered_files(rendered: Rendered) -> list[tuple[str, bytes, str]]:
    """A render's files in pin order, metadata last (it names the others)."""
    files = [("age layer", rendered.age_layer, rendered.age_layer_cid)] if rendered.age_layer_cid else []
    if rendered.animation_cid:
        files.append(("animation", rendered.animation, rendered.animation_cid))
    return [*files, ("image", rendered.image_png, rendered.image_cid),
            ("metadata", rendered.metadata, rendered.metadata_cid)]


def render_tasks(tasks: list[RenderTask], backend, *, telemetry, policy: PhoenixPolicy) -> list[Rendered | Exception]:
    """Render several tasks (of different tokens); one result or exception per task, in order.
    More than one goes to `renderer.render.render_batch`, which feeds a GPU backend in batches."""
    if len(tasks) == 1:
        try:
            return [render_task(tasks[0], backend, telemetry=telemetry, policy=policy)]
        except Exception as exc:
            return [exc]
    from ..render import RenderRequest, render_batch

    return render_batch([RenderRequest(t.event, t.origin, t.parent, t.chain_id, t.canvas, t.size,
                                       telemetry=telemetry.sample(), colour=ColourInputs.from_provenance(t.event.colour),
                                       congestion=Congestion.from_provenance(t.event.congestion),
                                       external_url=t.external_url)
                         for t in tasks], backend, policy=policy)
