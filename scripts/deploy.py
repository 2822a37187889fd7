"""Deploy ChaosCanvas with brownie.

Local (Anvil, via brownie's development network):
    brownie run scripts/deploy.py
A testnet, with an account from brownie's keystore (`brownie accounts new deployer`):
    CHAOS_DEPLOYER=deployer CHAOS_RENDERER=0xRendererAddress \
        brownie run scripts/deploy.py --network sepolia

Settings come from the environment, with these defaults:
    CHAOS_MINT_PRICE_WEI      10000000000000000   (0.01 ether)
    CHAOS_MUTATION_PRICE_WEI  1000000000000000    (0.001 ether)
    CHAOS_MAX_SUPPLY          10000
    CHAOS_ROYALTY_BPS         500                 (5 %)
    CHAOS_RENDERER            address given the renderer role (default: the deployer)
The deployed address is printed and written to build/deployments/chaos-<chainid>.json.
"""

import json
import os
from pathlib import Path

from brownie import ChaosCanvas, accounts, chain, network

DEFAULTS = {
    "mint_price": 10**16,
    "mutation_price": 10**15,
    "max_supply": 10_000,
    "royalty_bps": 500,
}


def deploy(deployer, renderer, mint_price=DEFAULTS["mint_price"], mutation_price=DEFAULTS["mutation_price"],
           max_supply=DEFAULTS["max_supply"], royalty_bps=DEFAULTS["royalty_bps"]):
    """Deploy the canvas with `deployer` as admin and `renderer` holding the renderer role."""
    return ChaosCanvas.deploy(deployer, renderer, mint_price, mutation_price, max_supply, royalty_bps,
                              {"from": deployer})


def _deployer():
    name = os.environ.get("CHAOS_DEPLOYER")
    if name:
        return accounts.load(name)
    if network.show_active() in ("development", "anvil") or not network.is_connected():
        return accounts[0]
    raise SystemExit("set CHAOS_DEPLOYER to the id of a brownie keystore account (`brownie accounts list`)")


def write_record(canvas, deployer, renderer, path=None):
    """Record the deployment where `chaos` finds it."""
    path = Path(path or f"build/deployments/chaos-{chain.id}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "chain_id": chain.id,
        "canvas": canvas.address,
        "block": canvas.tx.block_number if canvas.tx else None,
        "deployer": str(deployer),
        "renderer": str(renderer),
    }
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def deploy_and_record(renderer, record=None, **params):
    """Deploy from the node's first account and return the deployment record (used by `chaos deploy`)."""
    deployer = accounts[0]
    canvas = deploy(deployer, renderer, **params)
    return json.loads(write_record(canvas, deployer, renderer, record).read_text())


def main():
    deployer = _deployer()
    renderer = os.environ.get("CHAOS_RENDERER") or deployer.address
    env = {key: int(os.environ.get(f"CHAOS_{key.upper()}" + ("_WEI" if "price" in key else ""), value))
           for key, value in DEFAULTS.items()}
    canvas = deploy(deployer, renderer, **env)
    record = write_record(canvas, deployer, renderer, os.environ.get("CHAOS_DEPLOYMENT_RECORD"))
    print(f"ChaosCanvas deployed at {canvas.address} (chain {chain.id}); record: {record}")
    return canvas
