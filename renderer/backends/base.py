"""The interface every render backend implements."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from ..errors import SetupError

Colour = tuple[int, int, int]


class BackendError(SetupError, RuntimeError):
    """A backend cannot be loaded or cannot render (bad folder, missing device, ...).

    A SetupError, so the CLI reports it as one clear line instead of a traceback."""


class Backend(Protocol):
    """What `renderer.render` calls. Optional extras it uses when a backend has them:

    - `settings` (dict): recorded in the metadata's provenance.renderer.backend;
    - `degraded(steps_divisor) -> Backend`: a cheaper copy for a phoenix render;
    - `release_memory()`: free cached device memory before a phoenix retry.
    """

    #: Registry name, chosen with `--backend`.
    name: str
    #: Identifies the model and its version in every metadata file it renders.
    model_id: str
    #: True when the same inputs give the same bytes on any machine, so that
    #: verification may re-render and compare.
    deterministic: bool

    def create(self, prompt: str, seed: bytes, palette: list[Colour], width: int, height: int) -> np.ndarray:
        """The first image of a token: (height, width, 3) uint8."""
        ...

    def propose_mutation(self, parent: np.ndarray, prompt: str, seed: bytes, entropy: bytes,
                         palette: list[Colour], mask: np.ndarray) -> np.ndarray:
        """A full frame from which the mask's pixels are taken (the caller pastes them)."""
        ...
