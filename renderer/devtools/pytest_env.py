"""The test environment of a checkout, set before brownie's pytest plugin starts.

Loaded with `-p renderer.devtools.pytest_env` (pyproject's addopts), so it runs before
brownie's plugin compiles the project in `pytest_load_initial_conftests` and
before it launches Anvil. This makes a plain `pytest` work from any checkout
after `make setup`, without `make` having set the environment:

- `node_modules/.bin` (anvil, jsipfs) and the venv's `bin` go first on PATH;
- py-solc-x uses this checkout's compiler shim (`SOLCX_BINARY_PATH`), never ~/.solcx;
- brownie's development network gets a free loopback port instead of 8545, so
  two test sessions (two clones, or two people) never collide.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ..project import PROJECT_ROOT
from .nodes import free_port


def _prepend_path(*folders: Path) -> None:
    current = os.environ.get("PATH", "").split(os.pathsep)
    wanted = [str(folder) for folder in folders if folder.is_dir()]
    os.environ["PATH"] = os.pathsep.join(wanted + [p for p in current if p not in wanted])


_prepend_path(PROJECT_ROOT / "node_modules" / ".bin", Path(sys.executable).parent)
os.environ.setdefault("SOLCX_BINARY_PATH", str(PROJECT_ROOT / ".solc"))

from brownie._config import CONFIG  # noqa: E402  (after the environment above: brownie reads it at import)

CONFIG.networks["development"]["host"] = "http://127.0.0.1"
CONFIG.networks["development"]["cmd_settings"]["port"] = free_port()
