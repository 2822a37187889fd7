"""Where this checkout keeps what the product uses at run time: the contracts' sources and
build, and the npm tools (the solc shim's compiler, Anvil, js-ipfs) under node_modules."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def node_modules() -> Path:
    """Where the project's npm packages live (override with CHAOS_NODE_MODULES)."""
    return Path(os.environ.get("CHAOS_NODE_MODULES", PROJECT_ROOT / "node_modules"))
