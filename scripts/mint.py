"""Mint a Chaos Canvas token.

    CHAOS_PROMPT="a storm of paper cranes" brownie run scripts/mint.py
    CHAOS_PROMPT="..." CHAOS_ACCOUNT=me CHAOS_CANVAS=0x... brownie run scripts/mint.py --network sepolia

CHAOS_PROMPT   the prompt (required; at most 280 UTF-8 bytes)
CHAOS_ACCOUNT  id of a brownie keystore account (`brownie accounts list`); without it,
               accounts[0] of a development network
CHAOS_CANVAS   canvas address; without it, the latest ChaosCanvas deployment brownie knows,
               else the one scripts/deploy.py recorded in build/deployments/chaos-<chain id>.json
"""

import json
import os
from pathlib import Path

from brownie import ChaosCanvas, accounts, chain, network


def account():
    name = os.environ.get("CHAOS_ACCOUNT")
    if name:
        return accounts.load(name)
    if network.show_active() in ("development", "anvil"):
        return accounts[0]
    raise SystemExit("set CHAOS_ACCOUNT to the id of a brownie keystore account (`brownie accounts list`)")


def deployed(container, variable, record_key):
    """The contract at $variable, else the last one brownie deployed, else the deployment record's."""
    address = os.environ.get(variable)
    if address:
        return container.at(address)
    if container:
        return container[-1]
    record = Path(f"build/deployments/chaos-{chain.id}.json")
    if record.is_file() and record_key in json.loads(record.read_text()):
        return container.at(json.loads(record.read_text())[record_key])
    raise SystemExit(f"no {container._name} deployment known on this network: set {variable} to its address")


def canvas():
    return deployed(ChaosCanvas, "CHAOS_CANVAS", "canvas")


def main():
    prompt = os.environ.get("CHAOS_PROMPT", "")
    if not prompt.strip():
        raise SystemExit('set CHAOS_PROMPT to the prompt to mint, e.g. CHAOS_PROMPT="a storm of paper cranes"')
    if len(prompt.encode()) > 280:
        raise SystemExit(f"CHAOS_PROMPT is {len(prompt.encode())} bytes of UTF-8; the limit is 280")
    c, sender = canvas(), account()
    tx = c.mint(prompt, {"from": sender, "value": c.mintPrice()})
    print(f"minted token {tx.return_value} to {sender} (seed {tx.events['Minted']['seed']})")
    return tx.return_value
