"""Deploy ChaosCanvas with brownie onto a running node (`chaos deploy`).

brownie compiles the project (solc-js behind the shim `make` installs) and
`scripts/deploy.py` deploys it. This module only points brownie at the node:
it attaches brownie's `development` network to the given RPC URL, where the
node's first unlocked account deploys. That suits a local Anvil; for a testnet
use brownie itself (`brownie run scripts/deploy.py --network sepolia`, README).
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

from .errors import SetupError
from .nodes import PROJECT_ROOT


def deploy(rpc_url: str, renderer: str, record: Path, **params: int) -> dict:
    """Compile and deploy; returns the deployment record (also written to `record`)."""
    url = urlparse(rpc_url)
    if url.hostname not in ("127.0.0.1", "localhost") or not url.port:
        raise SetupError(f"`chaos deploy` attaches to a local dev node such as Anvil, not {rpc_url}; "
                         "for a testnet run `brownie run scripts/deploy.py --network <id>` (see README)")
    record = Path(record).resolve()
    os.chdir(PROJECT_ROOT)  # brownie resolves contracts, remappings and scripts from the project root
    from brownie import network, project, run
    from brownie._config import CONFIG

    canvas_project = project.load(PROJECT_ROOT, name="ChaosCanvasProject")
    CONFIG.networks["development"]["host"] = f"http://{url.hostname}"
    CONFIG.networks["development"]["cmd_settings"]["port"] = url.port
    network.connect("development")
    try:
        # brownie's own runner, as `brownie run` uses it: the script imports the project's contracts.
        return run("scripts/deploy.py", "deploy_and_record", kwargs={"renderer": renderer, "record": record, **params})
    finally:
        network.disconnect(kill_rpc=False)
        canvas_project.close()
