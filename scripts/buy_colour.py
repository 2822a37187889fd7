"""Buy pigment of one hue for a Chaos Canvas token (anyone may buy for any token).

    CHAOS_TOKEN=1 CHAOS_HUE=4 brownie run scripts/buy_colour.py
    CHAOS_TOKEN=1 CHAOS_HUE=4 CHAOS_VALUE_WEI=50000000000000000 CHAOS_ACCOUNT=me brownie run scripts/buy_colour.py --network sepolia

CHAOS_TOKEN         token id (required)
CHAOS_HUE           hue, 0 .. hueCount-1 (required; hue h spans h*360/hueCount degrees onwards)
CHAOS_VALUE_WEI     wei to spend, fee included (default 10000000000000000, 0.01 ether)
CHAOS_SLIPPAGE_BPS  accepted shortfall against the quote, in basis points (default 100, 1 %)
CHAOS_DEADLINE_S    seconds the transaction stays valid (default 600)
CHAOS_ACCOUNT       as in scripts/mint.py
CHAOS_POOLS         ColourPools address; without it, the latest ColourPools deployment brownie
                    knows, else the "pools" of build/deployments/chaos-<chain id>.json
"""

import os

from brownie import ColourPools, web3

from scripts.mint import account, deployed


def pools():
    return deployed(ColourPools, "CHAOS_POOLS", "pools")


def main():
    token, hue = os.environ.get("CHAOS_TOKEN", ""), os.environ.get("CHAOS_HUE", "")
    if not token.isdigit() or not hue.isdigit():
        raise SystemExit("set CHAOS_TOKEN to a token id and CHAOS_HUE to a hue (0 .. hueCount-1)")
    value = int(os.environ.get("CHAOS_VALUE_WEI", 10**16))
    slippage = int(os.environ.get("CHAOS_SLIPPAGE_BPS", 100))
    p, sender = pools(), account()
    if int(hue) >= p.hueCount():
        raise SystemExit(f"CHAOS_HUE must be below {p.hueCount()}")
    quote = p.quoteBuy(int(hue), value)
    min_out = quote * (10_000 - slippage) // 10_000
    deadline = web3.eth.get_block("latest")["timestamp"] + int(os.environ.get("CHAOS_DEADLINE_S", 600))
    tx = p.buy(int(token), int(hue), min_out, deadline, {"from": sender, "value": value})
    bought = tx.events["Bought"][0]
    generation = tx.events["Recoloured"][0]["generation"]
    print(f"token {token}: bought {bought['pigmentOut'] / 1e18:,.4f} pigment of hue {hue} for {value} wei; "
          f"re-colouring generation {generation}")
    return tx
