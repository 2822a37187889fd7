"""Gas of the Phoenix economy's transactions (ThermalOracle, LastFrameAuction) on a fresh local
deployment.

    python -m renderer.devtools.bench_gas scripts/gas_phoenix.py    # a throwaway Anvil on a free port
    brownie run scripts/gas_phoenix.py                     # brownie's development network

Figures are whole transaction gas as the receipt reports it. The lines it prints:

    oracle post (first): N / oracle post (later): N
    auction open: N
    auction commit (first of an auction): N / auction commit (later): N
    auction reveal (leading): N / auction reveal (not leading): N
    auction settle (sold): N / auction settle (no bid): N
    auction withdraw (loser): N / auction claim (holder): N
"""

import os
import warnings

from brownie import accounts, chain, network
from eth_abi import encode
from eth_utils import keccak

from scripts.deploy import DEFAULTS, deploy
from scripts.deploy_phoenix import PHOENIX_DEFAULTS, deploy_phoenix

METADATA_CID = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"
IMAGE_CID = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"


def _commitment(bid, salt, bidder):
    return keccak(encode(["uint256", "bytes32", "address"], [bid, salt, str(bidder)]))


def main():
    warnings.filterwarnings("ignore", category=FutureWarning)  # brownie's own rpc.* deprecations
    if network.show_active() not in ("development", "anvil"):
        raise SystemExit("gas_phoenix.py deploys throwaway contracts: run it on the development network")
    admin, renderer, holder, bob, carol, dave = accounts[:6]
    canvas = deploy(admin, renderer)
    oracle, _, auction = deploy_phoenix(canvas, admin, renderer)
    quiet = {"silent": True}
    lines = []

    def show(label, tx):
        lines.append(f"{label}: {tx.gas_used}")
        print(lines[-1], flush=True)

    show("oracle post (first)", oracle.post(chain.time() + 900, 9_000, b"\x01" * 32, {"from": renderer}, **quiet))
    chain.sleep(PHOENIX_DEFAULTS["oracle_interval"])
    show("oracle post (later)", oracle.post(chain.time() + 600, 9_500, b"\x02" * 32, {"from": renderer}, **quiet))

    token = canvas.mint("a furnace of stars", {"from": holder, "value": DEFAULTS["mint_price"]}, **quiet).return_value
    sold = auction.open(token, 0, 1, METADATA_CID, IMAGE_CID, {"from": renderer}, **quiet)
    show("auction open", sold)
    unsold = auction.open(token, 1, 2, METADATA_CID, IMAGE_CID, {"from": renderer}, **quiet).return_value
    sold = sold.return_value
    bids = {bob: 5 * 10**16, carol: 3 * 10**16}
    salts = {who: os.urandom(32) for who in bids}
    first = auction.commit(sold, _commitment(bids[bob], salts[bob], bob), {"from": bob, "value": 10**17}, **quiet)
    show("auction commit (first of an auction)", first)
    show("auction commit (later)", auction.commit(sold, _commitment(bids[carol], salts[carol], carol),
                                                  {"from": carol, "value": bids[carol]}, **quiet))
    chain.sleep(PHOENIX_DEFAULTS["commit_window"] + 1)
    show("auction reveal (leading)", auction.reveal(sold, 0, bids[bob], salts[bob], {"from": bob}, **quiet))
    show("auction reveal (not leading)", auction.reveal(sold, 1, bids[carol], salts[carol], {"from": carol}, **quiet))
    chain.sleep(PHOENIX_DEFAULTS["reveal_window"] + 1)
    show("auction settle (sold)", auction.settle(sold, {"from": dave}, **quiet))
    show("auction settle (no bid)", auction.settle(unsold, {"from": dave}, **quiet))
    show("auction withdraw (loser)", auction.withdraw(sold, 1, {"from": carol}, **quiet))
    show("auction claim (holder)", auction.claim({"from": holder}, **quiet))
    return lines
