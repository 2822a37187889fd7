"""Render backends: one small interface, swappable implementations.

A backend paints pixels and nothing else: it knows nothing of the chain, the
job store or IPFS. `renderer.render` turns a job into backend calls and
enforces what every backend must respect (a mutation changes only its mask).
"""

from .base import Backend, BackendError
from .noise import NoiseBackend

BACKENDS = {NoiseBackend.name: NoiseBackend}


def load_backend(name: str, **options) -> Backend:
    """Instantiate a backend by name (`chaos daemon --backend`)."""
    try:
        factory = BACKENDS[name]
    except KeyError:
        raise BackendError(f"unknown render backend {name!r}; choose one of: {', '.join(sorted(BACKENDS))}") from None
    return factory(**options)


__all__ = ["Backend", "BackendError", "NoiseBackend", "load_backend", "BACKENDS"]
