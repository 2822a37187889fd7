"""The render stage: a job's inputs in, image, age layer and metadata bytes out.

`render` is a pure function of its inputs (the event, the parent's image, age layer and
metadata CID, the backend, the telemetry reading, the phoenix degradation): it touches no
chain, no store, no GPU sensor and no network, so anyone holding the same inputs gets the
same bytes. The steps of a generation:

    mint:      backend.create -> stress painter                      -> fresh age layer
    mutation:  backend.propose_mutation -> stress painter -> crash split -> memory blend over
               the mask -> congestion glitch (renderer.congestion) -> renderer.mask.apply_mask (exactly the mask changes) -> age layer advanced
    recolour:  the parent graded toward the new palette -> crash split -> age layer carried
    observation: the parent graded toward the palette collapsed from the observer and the event's
               entropy (renderer.observer) -> crash split -> age layer carried
    reveal:    backend.create(layer prompt) -> blended into the parent over a disc drawn from the
               entropy (renderer.sealed) -> age layer carried

Every kind draws with `renderer.colour.render_palette`: the minter's base palette pulled toward
the token's pigment and the pool prices at the event's block (when the pools are known).

Several jobs render together through `render_batch`: each is prepared alone, the backend
draws a group of them in one call where it declares it can (`Backend.capabilities`), and
each is finished alone, so every job gets the bytes `render` would give it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

import numpy as np

from .animation import next_animation
from .backends import Backend, BackendError
from .backends.base import Creation, Proposal
from .chain import CanvasEvent
from .backends.grade import tint
from .cid import file_cid
from .colour import RECOLOUR_STRENGTH, ColourInputs, channel_split, render_palette
from .congestion import Congestion, glitch
from .hashing import derive_key
from .mask import apply_mask, changed_pixel_fraction, mask_digest, mutation_mask
from .memory import FORMAT as AGE_FORMAT
from .memory import AgeLayer, blend
from .metadata import build_metadata, encode_metadata
from . import decoded
from . import observer as observer_protocol
from . import sealed
from .painter import paint, paint_for
from .palette import base_palette, to_hex
from .phoenix import Degradation, PhoenixPolicy, is_out_of_memory
from .png import encode_png
from .telemetry import ABSENT, Reading

log = logging.getLogger("chaos.phoenix")


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
    #: The parent's animation (renderer.animation); None for a parent rendered before animations.
    animation: bytes | None = None


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
    #: The evolution so far as an APNG (renderer.animation), pinned beside the image: animation_url.
    animation: bytes = b""
    animation_cid: str = ""


@dataclass(frozen=True)
class RenderRequest:
    """One job of `render_batch`: the per-job arguments of `renderer.phoenix.render_with_phoenix`
    (the backend and the phoenix policy are the batch's)."""

    event: CanvasEvent
    origin: Origin
    parent: Parent | None
    chain_id: int
    canvas: str
    size: int = 256
    #: The worker's GPU reading for this job (None: telemetry absent).
    telemetry: Reading | None = None
    colour: ColourInputs | None = None
    congestion: Congestion | None = None
    #: The metadata's external_url (a link to the token's gallery page), or None.
    external_url: str | None = None


@dataclass(eq=False)
class _Draft:
    """A render between its preparation and its finish: what the backend must draw (`work`,
    None for a recolour) and everything the finish needs."""

    event: CanvasEvent
    origin: Origin
    parent: Parent | None
    backend: Backend
    active: Backend  # the backend, or its degraded copy
    size: int
    degrade: Degradation | None
    colour: ColourInputs | None
    reading: Reading
    palette: list
    work: Creation | Proposal | None = None
    #: What the finish starts from: the parent's pixels, age layer and its CID (not for a mint).
    previous: np.ndarray | None = None
    parent_layer: AgeLayer | None = None
    parent_layer_cid: str | None = None
    entropy: bytes | None = None
    mask: np.ndarray | None = None
    #: A degraded mutation is proposed on the parent subsampled by `step`.
    step: int = 1
    #: The base fee of the mutation's block and its glitch (renderer.congestion); None: none read.
    congestion: Congestion | None = None
    #: A reveal's per-pixel alpha (renderer.sealed.reveal_weights).
    weights: np.ndarray | None = None

    @property
    def group_key(self) -> tuple | None:
        """Drafts with equal keys can share one backend call: same kind of work, same degraded
        backend settings, same picture size. None: no backend work (a recolour)."""
        if self.work is None:
            return None
        if isinstance(self.work, Creation):
            shape = ("create", self.work.width, self.work.height)
        else:
            shape = ("propose", *self.work.parent.shape)
        return (*shape, self.degrade.steps_divisor if self.degrade else 1)


def _prepare(event: CanvasEvent, origin: Origin, parent: Parent | None, backend: Backend, *, size: int,
             telemetry: Reading | None, degrade: Degradation | None, colour: ColourInputs | None,
             congestion: Congestion | None = None) -> _Draft:
    if event.kind == "observation":
        base = observer_protocol.collapse_palette(event.args["observer"], bytes.fromhex(event.args["entropy"][2:]))
    else:
        base = base_palette(origin.minter)
    palette = render_palette(base, colour)
    active = backend.degraded(degrade.steps_divisor) if degrade else backend
    prompt = degrade.prompt if degrade else origin.prompt
    draft = _Draft(event, origin, parent, backend, active, size, degrade, colour, telemetry or ABSENT, palette)
    if event.kind == "mint":
        side = degrade.mint_size(size) if degrade else size
        draft.work = Creation(prompt, origin.seed, palette, side, side)
        return draft
    if parent is None:
        raise ValueError(f"generation {event.generation} of token {event.token_id} needs its parent generation")
    draft.previous = decoded.pixels(parent.image_png)  # read-only: shared with later renders
    draft.parent_layer = _parent_layer(parent, draft.previous, event)
    draft.parent_layer_cid = file_cid(parent.age_layer) if parent.age_layer is not None else None
    if event.kind in ("recolour", "observation"):
        return draft
    height, width, _ = draft.previous.shape
    draft.entropy = bytes.fromhex(event.args["entropy"][2:])
    if event.kind == "reveal":
        # The layer is drawn at the parent's size (never subsampled: the disc is the full-size one).
        draft.weights = sealed.reveal_weights(draft.entropy, width, height)
        draft.work = Creation(event.args["layer_prompt"], sealed.layer_seed(origin.seed, draft.entropy), palette,
                              width, height)
        return draft
    draft.mask = mutation_mask(draft.entropy, width, height)
    draft.congestion = congestion
    if degrade is None:
        draft.work = Proposal(draft.previous, prompt, origin.seed, draft.entropy, palette, draft.mask)
    else:
        # Smaller: propose on the parent subsampled by 2**L, then repeat pixels back to full size,
        # so the mask (and the pixels that change) are the full-size mask.
        draft.step = 1 << degrade.scale_shift
        small = np.ascontiguousarray(draft.previous[::draft.step, ::draft.step])
        rows, cols = np.divmod(draft.mask, width)
        small_mask = np.unique((rows // draft.step) * small.shape[1] + cols // draft.step)
        draft.work = Proposal(small, prompt, origin.seed, draft.entropy, palette, small_mask)
    return draft


def _draw(drafts: list[_Draft]) -> list[np.ndarray | None]:
    """The backend's pictures for drafts of one group: one call (None for a recolour)."""
    first = drafts[0]
    if first.work is None:
        return [None] * len(drafts)
    if len(drafts) == 1:
        work = first.work
        if isinstance(work, Creation):
            return [first.active.create(work.prompt, work.seed, work.palette, work.width, work.height)]
        return [first.active.propose_mutation(work.parent, work.prompt, work.seed, work.entropy, work.palette,
                                              work.mask)]
    works = [d.work for d in drafts]
    pictures = (first.active.create_batch(works) if isinstance(first.work, Creation)
                else first.active.propose_batch(works))
    if len(pictures) != len(works):
        raise BackendError(f"backend {first.active.name} returned {len(pictures)} pictures for a batch of {len(works)}")
    return pictures


def _finish(draft: _Draft, picture: np.ndarray | None, *, chain_id: int, canvas: str,
            external_url: str | None = None) -> Rendered:
    event, origin, parent, degrade, colour = draft.event, draft.origin, draft.parent, draft.degrade, draft.colour
    crashed = len(colour.crashed_held) if colour else 0
    stress = paint_for(draft.reading.sample)
    digest, mask_pixels = None, 0
    if event.kind == "mint":
        image = channel_split(paint(picture, stress, derive_key(origin.seed, "strokes")), crashed)
        layer = AgeLayer.fresh(draft.work.width, draft.work.height, event.generation)
        fraction = 1.0
    else:
        previous = draft.previous
        height, width, _ = previous.shape
        if event.kind in ("recolour", "observation"):
            # A re-colouring repaints no pixel's history: the age layer carries over unchanged.
            strength = observer_protocol.OBSERVE_STRENGTH if event.kind == "observation" else RECOLOUR_STRENGTH
            image = _recolour(previous, draft.palette, colour, strength)
            layer = draft.parent_layer.carry(event.generation)
        elif event.kind == "reveal":
            image = sealed.reveal_blend(previous, picture, draft.weights)
            layer = draft.parent_layer.carry(event.generation)
            revealed = sealed.reveal_mask(draft.weights)
            digest, mask_pixels = mask_digest(revealed), len(revealed)
        else:
            proposal = picture
            if draft.step > 1:
                proposal = np.repeat(np.repeat(proposal, draft.step, axis=0), draft.step, axis=1)[:height, :width]
            proposal = paint(proposal, stress, derive_key(origin.seed, draft.entropy, "strokes"))
            proposal = channel_split(proposal, crashed)
            proposal = blend(previous, proposal, draft.parent_layer, draft.mask, event.generation)
            if draft.congestion is not None:
                proposal = glitch(proposal, draft.mask, draft.entropy, draft.congestion.strength)
            image = apply_mask(previous, proposal, draft.mask)
            layer = draft.parent_layer.advance(draft.mask, event.generation)
            digest, mask_pixels = mask_digest(draft.mask), len(draft.mask)
        fraction = changed_pixel_fraction(previous, image)
    image_png = encode_png(np.ascontiguousarray(image))
    decoded.remember_pixels(image_png, image)  # the next generation's parent, most likely in this process
    image_cid = file_cid(image_png)
    animation = next_animation(image_png, parent.animation if parent else None, parent.image_png if parent else None)
    animation_cid = file_cid(animation)
    age_layer = layer.encode()
    decoded.remember_layer(age_layer, layer)
    age_layer_cid = file_cid(age_layer)
    phoenix = {**degrade.to_provenance(), "requested_size": draft.size} if degrade else None
    document = build_metadata(
        token_id=event.token_id, generation=event.generation, kind=event.kind, prompt=origin.prompt,
        seed="0x" + origin.seed.hex(), minter=origin.minter, image_cid=image_cid,
        parent_cid=parent.metadata_cid if parent else None, entropy=event.args.get("entropy"),
        mask_digest=digest, mask_pixels=mask_pixels, changed_pixel_fraction=fraction,
        palette=[to_hex(c) for c in draft.palette], width=image.shape[1], height=image.shape[0],
        model_id=draft.backend.model_id, chain_id=chain_id, canvas=canvas,
        event={"block_number": event.block_number, "block_hash": event.block_hash,
               "tx_hash": event.tx_hash, "log_index": event.log_index},
        memory={"age_layer": {"cid": age_layer_cid, "format": AGE_FORMAT, "generation": layer.generation},
                "parent_age_layer": draft.parent_layer_cid, "rule": "renderer.memory"},
        telemetry={**draft.reading.to_provenance(), "paint": stress.to_json() if stress else None,
                   "rule": "renderer.painter"},
        phoenix=phoenix,
        backend={"name": draft.backend.name, "settings": dict(draft.active.settings)},
        colour=colour.to_provenance() if colour else None,
        congestion=draft.congestion.to_provenance() if draft.congestion else None,
        animation_cid=animation_cid, external_url=external_url,
        **_kind_provenance(event))
    metadata = encode_metadata(document)
    return Rendered(image_png, image_cid, metadata, file_cid(metadata), fraction, age_layer, age_layer_cid,
                    degrade.reason if degrade else None, animation, animation_cid)


def _parent_layer(parent: Parent, previous: np.ndarray, event: CanvasEvent) -> AgeLayer:
    height, width, _ = previous.shape
    if parent.age_layer is None:
        return AgeLayer.fresh(width, height, event.generation - 1)
    layer = decoded.layer(parent.age_layer)
    if layer.shape != (height, width):
        raise ValueError(f"the parent's age layer is {layer.shape[1]}x{layer.shape[0]}, "
                         f"its image {width}x{height}: they are not of the same generation")
    if layer.generation >= event.generation:
        raise ValueError(f"the parent's age layer is of generation {layer.generation}, "
                         f"not older than generation {event.generation}")
    return layer


def _kind_provenance(event: CanvasEvent) -> dict:
    """build_metadata's blocks of an observation (who observed) or a reveal (which layer, how)."""
    if event.kind == "observation":
        return {"observation": {"observer": event.args["observer"], "strength": observer_protocol.OBSERVE_STRENGTH,
                                "rule": "renderer.observer.collapse_palette(observer, entropy)"}}
    if event.kind == "reveal":
        return {"mask_rule": sealed.MASK_RULE,
                "reveal": {"layer_prompt": event.args["layer_prompt"], "alpha": sealed.REVEAL_ALPHA,
                           "rule": "renderer.sealed.reveal_blend"}}
    return {}


def _recolour(previous: np.ndarray, palette, colour: ColourInputs | None,
              strength: int = RECOLOUR_STRENGTH) -> np.ndarray:
    """A re-colouring: the parent's whole picture graded toward the new palette, split if crashed."""
    image = tint(previous, palette, strength)
    return channel_split(image, len(colour.crashed_held) if colour else 0)


def render(event: CanvasEvent, origin: Origin, parent: Parent | None, backend: Backend, *,
           chain_id: int, canvas: str, size: int, telemetry: Reading | None = None,
           degrade: Degradation | None = None, colour: ColourInputs | None = None,
           congestion: Congestion | None = None, external_url: str | None = None) -> Rendered:
    draft = _prepare(event, origin, parent, backend, size=size, telemetry=telemetry, degrade=degrade, colour=colour,
                     congestion=congestion)
    return _finish(draft, _draw([draft])[0], chain_id=chain_id, canvas=canvas, external_url=external_url)


# ------------------------------------------------------------------------------- batches


@dataclass(frozen=True)
class _Job:
    index: int
    request: RenderRequest
    degrade: Degradation | None


def render_batch(requests: list[RenderRequest], backend: Backend, *,
                 policy: PhoenixPolicy = PhoenixPolicy()) -> list[Rendered | Exception]:
    """Render several jobs (of different tokens) at once; one result per request, in order.

    Each result is exactly what `render_with_phoenix(request..., backend, policy=policy)` would
    return for that request alone: the `Rendered`, or the exception it would raise (one job's
    failure never fails the others). How the backend is fed:

    - every job is prepared alone (parent decoded, mask drawn, palette made);
    - jobs whose backend work matches (mints of one size, or mutations of parents of one size,
      at one phoenix level) share one `create_batch` / `propose_batch` call of at most
      `backend.capabilities.max_batch` pictures, in request order; a backend that declares
      max_batch 1 (the CPU backend) is called once per job. Recolours need no backend call;
    - every job is finished alone (paint, crash split, memory blend, mask, encoders, metadata).

    Phoenix as in `render_with_phoenix`: a job whose telemetry is too hot starts degraded
    (and so joins a group of its level). When a shared call runs out of GPU memory, the
    backend's memory is released and the group is split in halves, each tried again; a job
    that runs out alone is degraded one level at a time, up to `policy.max_level`. A shared
    call that fails otherwise is split the same way, so only the job at fault fails.
    """
    jobs = []
    for index, request in enumerate(requests):
        degrade = policy.too_hot(request.telemetry)
        if degrade:
            log.warning("phoenix: token %d generation %d renders degraded: %s", request.event.token_id,
                        request.event.generation, degrade.detail, extra={"event": "phoenix", "reason": degrade.reason})
        jobs.append(_Job(index, request, degrade))
    results: list[Rendered | Exception | None] = [None] * len(requests)
    _render_jobs(jobs, backend, policy, results)
    return results


def _render_jobs(jobs: list[_Job], backend: Backend, policy: PhoenixPolicy, results: list) -> None:
    prepared: list[tuple[_Job, _Draft]] = []
    for job in jobs:
        request = job.request
        try:
            prepared.append((job, _prepare(request.event, request.origin, request.parent, backend, size=request.size,
                                           telemetry=request.telemetry, degrade=job.degrade,
                                           colour=request.colour, congestion=request.congestion)))
        except Exception as exc:
            results[job.index] = exc
    for group in _groups(prepared, backend.capabilities.max_batch):
        _render_group(group, backend, policy, results)


def _groups(prepared: list[tuple[_Job, _Draft]], max_batch: int) -> list[list[tuple[_Job, _Draft]]]:
    """Drafts that can share a backend call, at most max_batch per group, in request order."""
    if max_batch <= 1:
        return [[item] for item in prepared]
    groups: list[list[tuple[_Job, _Draft]]] = []
    open_groups: dict[tuple, list[tuple[_Job, _Draft]]] = {}
    for item in prepared:
        key = item[1].group_key
        group = open_groups.get(key) if key is not None else None
        if group is None or len(group) >= max_batch:
            group = [item]
            groups.append(group)
            if key is not None:
                open_groups[key] = group
        else:
            group.append(item)
    return groups


def _render_group(group: list[tuple[_Job, _Draft]], backend: Backend, policy: PhoenixPolicy, results: list) -> None:
    job = group[0][0]
    level = (job.degrade.level if job.degrade else 0) + 1
    pictures = error = None
    out_of_memory, detail = False, ""
    try:
        pictures = _draw([draft for _, draft in group])
    except Exception as exc:
        out_of_memory = is_out_of_memory(exc)
        text = str(exc).strip()
        detail = f"{type(exc).__name__}: {text.splitlines()[0][:200] if text else 'out of memory'}"
        if len(group) == 1 and (not out_of_memory or level > policy.max_level):
            error = exc  # final: this job fails with it
    # Outside the except block: the traceback's frames (and the tensors they hold) are gone,
    # so the memory they pinned can really be freed before a retry.
    if pictures is not None:
        for (item, draft), picture in zip(group, pictures):
            try:
                results[item.index] = _finish(draft, picture, chain_id=item.request.chain_id,
                                              canvas=item.request.canvas, external_url=item.request.external_url)
            except Exception as exc:
                results[item.index] = exc
        return
    if error is not None:
        results[job.index] = error
        return
    if out_of_memory:
        backend.release_memory()
    if len(group) > 1:
        log.warning("a shared render of %d jobs failed (%s); trying them in halves", len(group), detail)
        half = len(group) // 2
        _render_group(group[:half], backend, policy, results)
        _render_group(group[half:], backend, policy, results)
        return
    if job.degrade and job.degrade.reason == "temperature":
        detail = f"{job.degrade.detail}; then {detail}"
    event = job.request.event
    log.warning("phoenix: token %d generation %d ran out of GPU memory; retrying at level %d",
                event.token_id, event.generation, level, extra={"event": "phoenix", "reason": "cuda-oom"})
    _render_jobs([replace(job, degrade=Degradation("cuda-oom", level, detail))], backend, policy, results)


def recorded_inputs(provenance: dict) -> dict:
    """The keyword inputs of `render` that a metadata file records beyond the chain's events:
    telemetry, degrade, size, colour inputs and congestion. `render(event, origin, parent, backend, chain_id=..., canvas=...,
    **recorded_inputs(provenance))` repeats the render (the parent's age layer comes from the
    parent's files, or from `renderer.memory.replay_layer` and the chain)."""
    phoenix = provenance.get("phoenix")
    image = provenance.get("image") or {}
    size = phoenix["requested_size"] if phoenix else image.get("width", 256)
    return {"telemetry": Reading.from_provenance(provenance.get("telemetry")),
            "degrade": Degradation.from_provenance(phoenix), "size": size,
            "colour": ColourInputs.from_provenance(provenance.get("colour")),
            "congestion": Congestion.from_provenance(provenance.get("congestion"))}


def render_with_phoenix(event, origin, parent, backend, *, policy: PhoenixPolicy = PhoenixPolicy(),
                        telemetry: Reading | None = None, **render_options):
    """One render (`render_batch` of one request), reborn degraded on heat or out-of-memory instead of failing.

    `render_options`: chain_id, canvas, size and colour, as `renderer.render.RenderRequest` holds them.
    """
    request = RenderRequest(event, origin, parent, telemetry=telemetry, **render_options)
    result = render_batch([request], backend, policy=policy)[0]
    if isinstance(result, Exception):
        raise result
    return result
