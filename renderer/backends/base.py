"""The interface every render backend implements."""

from __future__ import annotations

from typing import Protocol

import numpy as np

Colour = tuple[int, int, int]


class BackendError(RuntimeError):
    """A backend cannot be loaded or cannot render (bad folder, missing device, ...)."""


class Backend(Protocol):
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
