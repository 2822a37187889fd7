"""The renderer daemon: read -> queue -> render -> pin -> commit, in a loop.

The stages live in `renderer.pipeline`; this module keeps the daemon's
historical entry points.
"""

from __future__ import annotations

from .pipeline.loop import RPC_OUTAGES, Daemon, Stages, open_daemon
from .store import RENDERED_STATES, SETTLED_STATES

__all__ = ["RENDERED_STATES", "RPC_OUTAGES", "SETTLED_STATES", "Daemon", "Stages", "open_daemon"]
