"""Phoenix: a render that would fail on a struggling GPU is reborn smaller instead.

Triggers, checked in this order:
  "temperature"  the telemetry reading says temperature_c > PhoenixPolicy.max_temperature_c:
                 the render starts degraded at level 1 (it never tries full quality);
  "cuda-oom"     the render raises CUDA out-of-memory: the backend's cached memory is
                 released and the render is tried again one level further down.
A render degraded at level `max_level` that still runs out of memory fails like any error.

Degradation at level L (1, 2, ...), applied by `renderer.render.render`:
  prompt   the flame prompt FLAME_PROMPT instead of the token's prompt (the metadata keeps
           the token's prompt in `provenance.prompt` and the flame prompt in `provenance.phoenix`)
  size     a mint is drawn at max(MIN_SIDE, size >> L) square; a mutation is proposed on the
           parent subsampled by 2**L (pixel (x, y) -> (x >> L, y >> L)) and scaled back up by
           repeating pixels, so the mask, and so the pixels that change, stay the same
  steps    a backend with steps (diffusion) runs max(1, steps // 4**L) of them
The metadata's `provenance.phoenix` records reason, level, detail and these values, and an
attribute "Phoenix" marks the generation for marketplaces.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass

from .telemetry import Reading

log = logging.getLogger("chaos.phoenix")

FLAME_PROMPT = "a phoenix reborn from its own flames, embers and ash swirling, glowing fire"
MIN_SIDE = 32


@dataclass(frozen=True)
class Degradation:
    reason: str  # "temperature" or "cuda-oom"
    level: int = 1
    detail: str = ""

    @property
    def scale_shift(self) -> int:
        return self.level

    @property
    def steps_divisor(self) -> int:
        return 4**self.level

    @property
    def prompt(self) -> str:
        return FLAME_PROMPT

    def mint_size(self, size: int) -> int:
        return max(MIN_SIDE, size >> self.level)

    def to_provenance(self) -> dict:
        return {"reason": self.reason, "level": self.level, "detail": self.detail, "prompt": self.prompt,
                "scale_divisor": 1 << self.scale_shift, "steps_divisor": self.steps_divisor,
                "rule": "renderer.phoenix"}

    @classmethod
    def from_provenance(cls, block: dict | None) -> Degradation | None:
        """The degradation a metadata file's `provenance.phoenix` records (to render it again)."""
        if not block:
            return None
        return cls(block["reason"], int(block["level"]), block.get("detail", ""))


@dataclass(frozen=True)
class PhoenixPolicy:
    #: Above this GPU temperature (Celsius) a render starts degraded; None: never for heat.
    max_temperature_c: int | None = 85
    #: The deepest degradation tried on out-of-memory before the render fails.
    max_level: int = 2

    def too_hot(self, reading: Reading | None) -> Degradation | None:
        sample = reading.sample if reading else None
        if self.max_temperature_c is None or sample is None or sample.temperature_c is None:
            return None
        if sample.temperature_c <= self.max_temperature_c:
            return None
        return Degradation("temperature", 1, f"GPU at {sample.temperature_c} C, over the "
                                             f"{self.max_temperature_c} C threshold ({reading.origin})")


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA out-of-memory, however it surfaced (torch.OutOfMemoryError, or a RuntimeError from a kernel)."""
    torch = sys.modules.get("torch")  # never import torch just to ask: the CPU backend does not need it
    if torch is not None and isinstance(exc, getattr(torch, "OutOfMemoryError", ())):
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()
