"""The interface every render backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ..errors import SetupError

Colour = tuple[int, int, int]


class BackendError(SetupError, RuntimeError):
    """A backend cannot be loaded or cannot render (bad folder, missing device, ...).

    A SetupError, so the CLI reports it as one clear line instead of a traceback."""


@dataclass(frozen=True)
class Capabilities:
    """What a backend declares it can do beyond one picture per call (`renderer.render` reads
    this; it never probes a backend's attributes)."""

    #: The most pictures one `create_batch` / `propose_batch` call may be given. 1: the backend
    #: renders one at a time, and `renderer.render.render_batch` calls it once per job.
    max_batch: int = 1


@dataclass(frozen=True, eq=False)
class Creation:
    """One picture of a `create_batch` call: the arguments of `Backend.create`."""

    prompt: str
    seed: bytes
    palette: list[Colour]
    width: int
    height: int


@dataclass(frozen=True, eq=False)
class Proposal:
    """One picture of a `propose_batch` call: the arguments of `Backend.propose_mutation`."""

    parent: np.ndarray
    prompt: str
    seed: bytes
    entropy: bytes
    palette: list[Colour]
    mask: np.ndarray


class Backend(Protocol):
    """What `renderer.render` calls."""

    #: Registry name, chosen with `--backend`.
    name: str
    #: Identifies the model and its version in every metadata file it renders.
    model_id: str
    #: True when the same inputs give the same bytes on any machine, so that
    #: verification may re-render and compare.
    deterministic: bool
    capabilities: Capabilities

    @property
    def settings(self) -> dict:
        """Recorded in the metadata's provenance.renderer.backend ({} when there is nothing to say)."""
        ...

    def create(self, prompt: str, seed: bytes, palette: list[Colour], width: int, height: int) -> np.ndarray:
        """The first image of a token: (height, width, 3) uint8."""
        ...

    def propose_mutation(self, parent: np.ndarray, prompt: str, seed: bytes, entropy: bytes,
                         palette: list[Colour], mask: np.ndarray) -> np.ndarray:
        """A full frame from which the mask's pixels are taken (the caller pastes them)."""
        ...

    def create_batch(self, items: list[Creation]) -> list[np.ndarray]:
        """`create` of every item, in one pass where the backend can (capabilities.max_batch > 1;
        all items of one size). Each picture is what `create` would give it alone."""
        ...

    def propose_batch(self, items: list[Proposal]) -> list[np.ndarray]:
        """`propose_mutation` of every item, likewise (all parents of one shape)."""
        ...

    def degraded(self, steps_divisor: int) -> Backend:
        """A cheaper copy for a phoenix render (fewer steps where the backend has steps; else itself)."""
        ...

    def release_memory(self) -> None:
        """Free cached device memory before a phoenix retry."""
        ...
