"""The contracts' ABIs the renderer ships (refreshed by `make abi`; a test checks they match)."""

import json
from importlib import resources


def load_abi(name: str) -> list[dict]:
    """The ABI of contract `name` (e.g. "ChaosCanvas"), from this package."""
    return json.loads(resources.files(__name__).joinpath(f"{name}.json").read_text())
