"""Deploy ChaosCanvas and its colour pools (ColourPools) with brownie.

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
and for the colour pools (CHAOS_POOLS=0 deploys the canvas alone):
    CHAOS_HUE_COUNT           12                  (hues of 360/12 = 30 degrees; a divisor of 360)
    CHAOS_VIRTUAL_ETH_WEI     1000000000000000000 (1 ether of virtual ETH per pool)
    CHAOS_INITIAL_PIGMENT     10**24              (1,000,000 pigment, 18 decimals, per pool)
    CHAOS_FEE_BPS             30                  (0.3 % per trade, to the fee pot)
    CHAOS_FLOOR_BPS           2000                (flash crash below 20 % of the initial pigment)
    CHAOS_OVERUSE_BPS         5000                (overused below 50 %: rebases start)
    CHAOS_REBASE_BPS          1000                (index -10 % per period of overuse)
    CHAOS_REBASE_PERIOD       86400               (one day; period boundaries from the deployment time)
    CHAOS_TWAP_WINDOW         3600                (renders and rebases read the reserve averaged over an hour)
    CHAOS_MIN_TRADE           1000000000000000    (0.001 ether: the least a buy pays or a sell returns)
The deployed addresses are printed and written to build/deployments/chaos-<chainid>.json
(keys: chain_id, canvas, block, deployer, renderer, and pools when deployed).
`deploy_and_record` (what `chaos deploy` runs) also deploys the Phoenix economy
(scripts/deploy_phoenix.py) and adds its addresses: oracle, last_frame, auction.
"""

import json
import os
from pathlib import Path

from brownie import ChaosCanvas, ColourPools, accounts, chain, network

DEFAULTS = {
    "mint_price": 10**16,
    "mutation_price": 10**15,
    "max_supply": 10_000,
    "royalty_bps": 500,
}


# ColourPools constructor parameters after (canvas, admin), in order.
POOL_DEFAULTS = {
    "hue_count": 12,
    "virtual_eth": 10**18,
    "initial_pigment": 10**24,
    "fee_bps": 30,
    "floor_bps": 2_000,
    "overuse_bps": 5_000,
    "rebase_bps": 1_000,
    "rebase_period": 86_400,
    "twap_window": 3_600,
    "min_trade": 10**15,
}


def deploy(deployer, renderer, mint_price=DEFAULTS["mint_price"], mutation_price=DEFAULTS["mutation_price"],
           max_supply=DEFAULTS["max_supply"], royalty_bps=DEFAULTS["royalty_bps"]):
    """Deploy the canvas with `deployer` as admin and `renderer` holding the renderer role."""
    return ChaosCanvas.deploy(deployer, renderer, mint_price, mutation_price, max_supply, royalty_bps,
                              {"from": deployer})


def deploy_pools(canvas, deployer, **params):
    """Deploy ColourPools for `canvas` (owned by `deployer`, who must hold the canvas's admin
    role) and grant it the canvas's POOLS_ROLE. `params`: any of POOL_DEFAULTS."""
    unknown = set(params) - set(POOL_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown pool parameters: {sorted(unknown)}")
    values = [params.get(key, default) for key, default in POOL_DEFAULTS.items()]
    pools = ColourPools.deploy(canvas, deployer, *values, {"from": deployer})
    canvas.grantRole(canvas.POOLS_ROLE(), pools, {"from": deployer})
    return pools


def skip_brownie_deployment_records():
    """On a live network brownie 1.22 saves its own copy of each deployment (its deployment map
    and a row in ~/.brownie's deployments database) from a background thread, which fails with
    `TypeError: dict object expected; got brownie.project.sources.Sources` after a deploy that
    succeeded. `write_record` keeps the record chaos reads, so brownie's copy is skipped."""
    from brownie.network import contract

    contract.ProjectContract._save_deployment = lambda self: None
    contract._add_deployment = lambda deployed: None


def _deployer():
    name = os.environ.get("CHAOS_DEPLOYER")
    if name:
        return accounts.load(name)
    if network.show_active() in ("development", "anvil") or not network.is_connected():
        return accounts[0]
    raise SystemExit("set CHAOS_DEPLOYER to the id of a brownie keystore account (`brownie accounts list`)")


def write_record(canvas, deployer, renderer, path=None, pools=None):
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
    if pools is not None:
        record["pools"] = pools.address
    path.write_text(json.dumps(record, indent=2) + "\n")
    return path


def deploy_and_record(renderer, record=None, with_pools=True, deployer=None, **params):
    """Deploy the canvas and (unless `with_pools` is false) its pools from `deployer` (default:
    the node's first account) and return the deployment record (used by `chaos deploy`).
    `params` may mix canvas parameters (DEFAULTS) and pool parameters (POOL_DEFAULTS)."""
    deployer = deployer or accounts[0]
    pool_params = {key: params.pop(key) for key in list(params) if key in POOL_DEFAULTS}
    canvas = deploy(deployer, renderer, **params)
    pools = deploy_pools(canvas, deployer, **pool_params) if with_pools else None
    path = write_record(canvas, deployer, renderer, record, pools)
    return _sibling("deploy_phoenix").add_to_record(path, canvas, deployer, renderer)  # oracle, last_frame, auction


def _sibling(name):
    """scripts/<name>.py loaded from its file (this script is loaded the same way, not as a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"chaos_scripts_{name}", Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main():
    if network.show_active() not in ("development", "anvil"):
        skip_brownie_deployment_records()
    deployer = _deployer()
    renderer = os.environ.get("CHAOS_RENDERER") or deployer.address
    env = {key: int(os.environ.get(f"CHAOS_{key.upper()}" + ("_WEI" if "price" in key else ""), value))
           for key, value in DEFAULTS.items()}
    canvas = deploy(deployer, renderer, **env)
    pools = None
    if os.environ.get("CHAOS_POOLS", "1") != "0":
        pool_env = {key: int(os.environ.get(f"CHAOS_{key.upper()}" + ("_WEI" if key == "virtual_eth" else ""), value))
                    for key, value in POOL_DEFAULTS.items()}
        pools = deploy_pools(canvas, deployer, **pool_env)
    record = write_record(canvas, deployer, renderer, os.environ.get("CHAOS_DEPLOYMENT_RECORD"), pools)
    print(f"ChaosCanvas deployed at {canvas.address} (chain {chain.id}); record: {record}")
    if pools is not None:
        print(f"ColourPools deployed at {pools.address}, holding the canvas's POOLS_ROLE")
    return canvas
