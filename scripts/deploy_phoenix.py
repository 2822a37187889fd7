"""Deploy the Phoenix economy beside a canvas: ThermalOracle, LastFrame and LastFrameAuction.

    brownie run scripts/deploy_phoenix.py         (CHAOS_CANVAS: the canvas address)

`scripts/deploy.py`'s `deploy_and_record` calls `deploy_phoenix` and `chaos deploy` records the
three addresses (keys oracle, last_frame, auction). Settings come from the environment:
    CHAOS_ORACLE_INTERVAL       3600       seconds between two oracle posts, at least
    CHAOS_COMMIT_WINDOW         3600       seconds of sealed bidding after an auction opens
    CHAOS_REVEAL_WINDOW         3600       seconds of revealing after bidding
    CHAOS_RESERVE_WEI           10**15     lowest winning bid and lowest deposit (0.001 ether)
    CHAOS_HOLDER_BPS            5000       share of the price paid to the canvas token's holder
    CHAOS_FORFEIT_BPS           1000       share of an unrevealed commit's deposit kept
    CHAOS_TREASURY              the deployer: receives the rest of the price and the forfeits
The renderer (CHAOS_RENDERER, default the deployer) gets the oracle's ORACLE_ROLE and the
auction's OPENER_ROLE.
"""

import json
import os
from pathlib import Path

from brownie import LastFrame, LastFrameAuction, ThermalOracle, accounts, network

PHOENIX_DEFAULTS = {
    "oracle_interval": 3_600,
    "commit_window": 3_600,
    "reveal_window": 3_600,
    "reserve": 10**15,
    "holder_bps": 5_000,
    "forfeit_bps": 1_000,
}


def deploy_phoenix(canvas, deployer, renderer, treasury=None, **params):
    """Deploy oracle, Last Frame and auction for `canvas` from `deployer` (admin of all three);
    `renderer` posts forecasts and opens auctions. Returns (oracle, frames, auction)."""
    unknown = set(params) - set(PHOENIX_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown Phoenix parameters: {sorted(unknown)}")
    p = {**PHOENIX_DEFAULTS, **params}
    tx = {"from": deployer}
    oracle = ThermalOracle.deploy(deployer, renderer, p["oracle_interval"], tx)
    frames = LastFrame.deploy(deployer, canvas, tx)
    auction = LastFrameAuction.deploy(deployer, renderer, canvas, frames, treasury or deployer, p["commit_window"],
                                      p["reveal_window"], p["reserve"], p["holder_bps"], p["forfeit_bps"], tx)
    frames.setAuction(auction, tx)
    return oracle, frames, auction


def record_entries(oracle, frames, auction):
    """The deployment record's keys for the Phoenix contracts."""
    return {"oracle": oracle.address, "last_frame": frames.address, "auction": auction.address}


def add_to_record(path, canvas, deployer, renderer, **params):
    """Deploy the Phoenix contracts for `canvas` and add their addresses to the deployment record
    at `path` (what `scripts/deploy.py`'s `deploy_and_record` wrote); returns the record."""
    path = Path(path)
    contracts = deploy_phoenix(canvas, deployer, renderer, **params)
    record = {**json.loads(path.read_text()), **record_entries(*contracts)}
    path.write_text(json.dumps(record, indent=2) + "\n")
    return record


def main():
    canvas = os.environ.get("CHAOS_CANVAS")
    if not canvas:
        raise SystemExit("set CHAOS_CANVAS to the canvas address")
    deployer = accounts.load(os.environ["CHAOS_DEPLOYER"]) if os.environ.get("CHAOS_DEPLOYER") else accounts[0]
    renderer = os.environ.get("CHAOS_RENDERER") or deployer.address
    params = {key: int(os.environ.get(f"CHAOS_{key.upper()}" + ("_WEI" if key == "reserve" else ""), value))
              for key, value in PHOENIX_DEFAULTS.items()}
    oracle, frames, auction = deploy_phoenix(canvas, deployer, renderer, os.environ.get("CHAOS_TREASURY"), **params)
    print(f"on {network.show_active()}: ThermalOracle {oracle.address}, LastFrame {frames.address}, "
          f"LastFrameAuction {auction.address}")
    return oracle, frames, auction
