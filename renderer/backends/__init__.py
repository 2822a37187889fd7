"""Render backends: one small interface, swappable implementations.

A backend paints pixels and nothing else: it knows nothing of the chain, the
job store or IPFS. `renderer.render` turns a job into backend calls and
enforces what every backend must respect (a mutation changes only its mask).
"""

from .base import Backend, BackendError
from .diffusion import DiffusionBackend
from .noise import NoiseBackend

# The noise backend stays the default (renderer.config); diffusion imports torch only when built.
BACKENDS = {NoiseBackend.name: NoiseBackend, DiffusionBackend.name: DiffusionBackend}


def load_backend(name: str, **options) -> Backend:
    """Instantiate a backend by name (`chaos daemon --backend`).

    Options go to the backend's constructor, e.g. load_backend("diffusion", model_dir=DIR, device="cuda").
    """
    try:
        factory = BACKENDS[name]
    except KeyError:
        raise BackendError(f"unknown render backend {name!r}; choose one of: {', '.join(sorted(BACKENDS))}") from None
    return factory(**options)


def backend_options(settings) -> dict:
    """The constructor options of `settings.backend` from a `renderer.config.Settings`
    (model_dir, device, steps and max_batch = gpu_batch for diffusion; none for noise)."""
    if settings.backend != DiffusionBackend.name:
        return {}
    return {"model_dir": settings.model_dir, "device": settings.device, "steps": settings.steps,
            "max_batch": settings.gpu_batch}


__all__ = ["Backend", "BackendError", "DiffusionBackend", "NoiseBackend", "backend_options", "load_backend", "BACKENDS"]
