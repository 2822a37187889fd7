"""Colour-pool prices for the gallery's chart: now, and after every trade.

Each hue's marginal price, read with `renderer.pools.read_pool_state` at the block of every
Bought, Sold or Rebased event. A node that keeps no old state (not an archive node) answers
only the recent blocks; older points are left out rather than guessed.
"""

from __future__ import annotations

from web3 import Web3
from web3.exceptions import Web3Exception

from ..chainlogs import DEFAULT_LOG_RANGE, read_logs
from ..pools import pools_abi, read_pool_state

#: Events after which a hue's price may have moved (their topics come from the ABI).
PRICE_EVENTS = ("Bought", "Sold", "Rebased")


def pool_state(w3: Web3, address: str, block: int | str = "latest") -> list[dict]:
    """Every hue's spot price (wei per whole pigment, as a decimal string: what the next trade pays)
    and crash flag (time-weighted, as renders read it) at `block`."""
    contract = w3.eth.contract(address=Web3.to_checksum_address(address), abi=pools_abi())
    return [{"hue": s.hue, "price_wei": str(s.spot_price), "crashed": s.crashed}
            for s in read_pool_state(contract, block_identifier=block)]


def price_history(w3: Web3, address: str | None, from_block: int = 0, limit: int = 200,
                  cache: dict | None = None, span: int = DEFAULT_LOG_RANGE) -> list[dict]:
    """Points {block, timestamp, prices_wei} in block order: the prices before the first trade, after each
    block that traded (the last `limit` of them) and now. [] when there is no pools contract.
    `cache` (block hash -> point) spares the calls for blocks already read."""
    if not address:
        return []
    contract = w3.eth.contract(address=Web3.to_checksum_address(address), abi=pools_abi())
    topics = [[contract.events[name]().topic for name in PRICE_EVENTS]]
    logs = read_logs(w3, address=contract.address, topics=topics, from_block=from_block, span=span)
    traded = sorted({log["blockNumber"] for log in logs})[-limit:]
    head = w3.eth.block_number
    blocks = ([traded[0] - 1] if traded and traded[0] > 0 else []) + traded + [head]
    points = []
    cache = {} if cache is None else cache
    for number in dict.fromkeys(blocks):  # in order, without repeats
        block = w3.eth.get_block(number)
        key = (address, block["hash"])
        if key not in cache:
            try:
                prices = [hue["price_wei"] for hue in pool_state(w3, address, number)]
            except (Web3Exception, ValueError):  # no state kept for that block on this node, or no pools there yet
                continue
            cache[key] = {"block": number, "timestamp": block["timestamp"], "prices_wei": prices}
        points.append(cache[key])
    return points
