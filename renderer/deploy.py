"""Deploy ChaosCanvas and its colour pools with brownie (`chaos deploy`).

brownie compiles the project (solc-js behind the shim in this checkout) and
`scripts/deploy.py` deploys it. This module only connects brownie:

- a local dev node (Anvil, no key given): brownie's `development` network attached
  to the URL; the node's first unlocked account deploys;
- any other node (a testnet, or a local node posing as one) with a keystore file or
  a key: an in-memory brownie *live* network for that URL and chain id, the
  deployer signing locally. Nothing is written to brownie's network config.

Two brownie behaviours are worked around here, so a deploy works from any folder
and prints no traceback:
- `brownie run` imports a script by turning its absolute path into a dotted module
  name, which breaks in a folder whose path has a dot (`~/src/chaos.canvas`). The
  script is loaded from its file instead.
- On a live network brownie saves its own deployment map and a row in
  ~/.brownie's deployments database from a background thread, which fails in brownie 1.22 (`TypeError: dict object expected; got ... Sources`).
  Our deployment record (`--record`) is what `chaos` reads, so brownie's copy is
  skipped (`scripts/deploy.py`'s `skip_brownie_deployment_records`, which `brownie run`
  on a live network uses too) rather than left to print a traceback after a deploy
  that succeeded.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from urllib.parse import urlparse

from .errors import SetupError
from .project import PROJECT_ROOT

#: The solc-js shim `make setup` writes (py-solc-x reads SOLCX_BINARY_PATH); never ~/.solcx.
SOLC_DIR = PROJECT_ROOT / ".solc"
LIVE_NETWORK_ID = "chaos-live"


def use_project_compiler() -> None:
    """Point py-solc-x (and so brownie) at this checkout's compiler shim."""
    os.environ.setdefault("SOLCX_BINARY_PATH", str(SOLC_DIR))
    shims = list(Path(os.environ["SOLCX_BINARY_PATH"]).glob("solc-v*"))
    if not shims:
        raise SetupError(f"no Solidity compiler shim in {os.environ['SOLCX_BINARY_PATH']}: run `make setup` "
                         f"in {PROJECT_ROOT}")


def load_script(name: str):
    """scripts/<name>.py as a module, imported from its file. `brownie run` would import it by its
    absolute path turned into a dotted module name, which fails in a folder whose path has a dot."""
    path = PROJECT_ROOT / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"chaos_scripts_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _is_local(url) -> bool:
    return url.hostname in ("127.0.0.1", "localhost") and bool(url.port)


def deploy(rpc_url: str, renderer: str, record: Path, *, keystore: Path | None = None,
           private_key: str | None = None, password: str | None = None, **params: int) -> dict:
    """Compile and deploy; returns the deployment record (also written to `record`).

    Without `keystore`/`private_key` the node must be a local dev node with unlocked accounts.
    """
    url = urlparse(rpc_url)
    live = keystore is not None or private_key is not None
    if not live and not _is_local(url):
        raise SetupError(f"deploying to {rpc_url} needs a deployer account: pass --keystore FILE "
                         "(password in CHAOS_KEYSTORE_PASSWORD) or --key")
    use_project_compiler()
    record = Path(record).resolve()
    os.chdir(PROJECT_ROOT)  # brownie resolves contracts and remappings from the project root
    from brownie import accounts, network, project
    from brownie._config import CONFIG

    canvas_project = project.load(PROJECT_ROOT, name="ChaosCanvasProject")
    canvas_project._add_to_main_namespace()  # the script does `from brownie import ChaosCanvas`
    script = load_script("deploy")
    try:
        if live:
            script.skip_brownie_deployment_records()
            _connect_live(CONFIG, network, rpc_url)
            deployer = _live_account(accounts, keystore, private_key, password)
        else:
            CONFIG.networks["development"]["host"] = f"http://{url.hostname}"
            CONFIG.networks["development"]["cmd_settings"]["port"] = url.port
            network.connect("development")
            deployer = None  # the script uses the node's first unlocked account
        return script.deploy_and_record(renderer=renderer, record=record, deployer=deployer, **params)
    finally:
        if network.is_connected():
            network.disconnect(kill_rpc=False)
        canvas_project.close()


def _connect_live(config, network, rpc_url: str) -> None:
    """An in-memory live network for `rpc_url` (brownie wants its chain id up front)."""
    from web3 import Web3

    try:
        chain_id = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 20})).eth.chain_id
    except Exception as exc:  # requests' and web3's connection errors have no common base
        raise SetupError(f"cannot reach the Ethereum RPC node at {rpc_url} ({type(exc).__name__}): "
                         "is the URL right and the node running?") from None
    config.networks[LIVE_NETWORK_ID] = {"id": LIVE_NETWORK_ID, "name": f"chain {chain_id}", "host": rpc_url,
                                        "chainid": chain_id, "timeout": 120}
    network.connect(LIVE_NETWORK_ID)


def _live_account(accounts, keystore: Path | None, private_key: str | None, password: str | None):
    """The deployer as a brownie account, decrypted the way the renderer's own key is."""
    from .keys import load_account

    if password is None:
        password = os.environ.get("CHAOS_KEYSTORE_PASSWORD")
    account = load_account(private_key, keystore, password)
    return accounts.add(account.key.hex())
