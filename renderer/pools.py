"""The colour pools (ColourPools) as the renderer reads them, with web3 only.

One call, `poolState()`, gives every hue's state; a render reads it at the block it
renders (pass that block as `block_identifier`) so the same inputs give the same image.
The price and crash flag a render reads are time-weighted (the contract averages each
hue's pigment reserve over its `twapWindow`, an hour by default), so one block of market
manipulation cannot steer a render; the reserves are the spot ones.
`format_pools` prints the table behind `chaos pools`.

Units as the contract keeps them: ETH in wei; pigment in 1e-18 units; price in wei per
whole pigment; the rebase index in units of 1 / INDEX_ONE (INDEX_ONE = no rebase yet).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from web3 import Web3

from .abi import load_abi
from .errors import SetupError

WAD = 10**18
GWEI = 10**9
INDEX_ONE = 10**9
POOLS_ROLE = Web3.keccak(text="POOLS_ROLE")


def pools_abi() -> list[dict]:
    return load_abi("ColourPools")


@dataclass(frozen=True)
class HueState:
    """One hue's pool, as `poolState()` reported it."""

    hue: int
    hue_count: int
    eth_reserve: int  # wei held by the pool (its virtual ETH not counted)
    pigment_reserve: int  # 1e-18 pigment units
    price: int  # time-weighted price, wei per whole pigment (the curve's price at the averaged reserve)
    crashed: bool  # averaged pigment reserve under the floor: split the RGB channels of its holders
    rebase_index: int  # of INDEX_ONE: what a holder's pigment of this hue is still worth
    next_rebase_at: int = 0  # the next period boundary, where an overused hue takes a rebase step; 0 if not overused
    #: What the next trade pays (wei per whole pigment) and the averaged reserve behind `price`/`crashed`:
    #: shown by the gallery's price chart, never part of a render's inputs (hence not compared).
    spot_price: int = field(default=0, compare=False)
    tw_pigment_reserve: int = field(default=0, compare=False)

    @property
    def degrees(self) -> tuple[float, float]:
        """The hue's arc of the colour wheel, [start, end) in degrees."""
        width = 360 / self.hue_count
        return self.hue * width, (self.hue + 1) * width

    @property
    def index_fraction(self) -> float:
        return self.rebase_index / INDEX_ONE

    @property
    def overused(self) -> bool:
        return self.next_rebase_at != 0


def read_pool_state(contract, block_identifier="latest") -> list[HueState]:
    """Every hue's state, in hue order, from a web3 ColourPools contract (see `pools_abi`)."""
    return hue_states(contract.functions.poolState().call(block_identifier=block_identifier))


def hue_states(rows) -> list[HueState]:
    """HueStates of `poolState()`'s rows, however they were decoded (web3's call or a raw batch)."""
    count = len(rows)
    return [HueState(hue, count, int(row[0]), int(row[1]), int(row[2]), bool(row[3]), int(row[4]), int(row[5]),
                     spot_price=int(row[7]), tw_pigment_reserve=int(row[6]))
            for hue, row in enumerate(rows)]


def _degrees(state: HueState) -> str:
    start, end = state.degrees
    fmt = (lambda x: f"{x:g}")
    return f"{fmt(start)}-{fmt(end)}"


def _fixed(value: int, unit: int, places: int) -> str:
    return f"{Decimal(value) / Decimal(unit):,.{places}f}"


COLUMNS = ("hue", "degrees", "ETH reserve", "pigment reserve", "price (gwei/pigment)", "state", "rebase index")


def format_pools(states: list[HueState]) -> str:
    """A plain-text table of the pools, one row per hue (for `chaos pools`)."""
    rows = [COLUMNS]
    for s in states:
        state = "CRASHED" if s.crashed else ("overused" if s.overused else "ok")
        rows.append((str(s.hue), _degrees(s), _fixed(s.eth_reserve, WAD, 6), _fixed(s.pigment_reserve, WAD, 2),
                     _fixed(s.price, GWEI, 3), state, f"{s.index_fraction:.2%}"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    # Text columns to the left, numbers to the right.
    left = {0: False, 1: True, 5: True}
    lines = []
    for n, row in enumerate(rows):
        cells = [cell.ljust(w) if left.get(i, False) or n == 0 else cell.rjust(w)
                 for i, (cell, w) in enumerate(zip(row, widths))]
        lines.append("  ".join(cells).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    if not states:
        lines.append("(no pools)")
    return "\n".join(lines)


def find_pools(canvas) -> str | None:
    """The contract holding the canvas's POOLS_ROLE now (the latest one granted), or None."""
    granted = canvas.contract.events.RoleGranted()
    logs = canvas.w3.eth.get_logs({"address": canvas.address, "fromBlock": 0, "toBlock": "latest",
                                   "topics": [granted.topic, POOLS_ROLE.to_0x_hex()]})
    for log in reversed(logs):
        account = Web3.to_checksum_address(log["topics"][2][-20:])
        if canvas.contract.functions.hasRole(POOLS_ROLE, account).call():
            return account
    return None


def open_pools(canvas, address: str | None = None):
    """The web3 ColourPools contract of `canvas`: at `address` if given (checked to hold the
    canvas's POOLS_ROLE), else the one that holds it now; None for a canvas without pools."""
    if address is None:
        address = find_pools(canvas)
        if address is None:
            return None
    elif not Web3.is_address(address):
        raise SetupError(f"{address!r} is not an address: fix CHAOS_POOLS / --pools")
    address = Web3.to_checksum_address(address)
    if not canvas.w3.eth.get_code(address):
        raise SetupError(f"no contract code at the pools address {address}: fix CHAOS_POOLS / --pools")
    if not canvas.contract.functions.hasRole(POOLS_ROLE, address).call():
        raise SetupError(f"{address} does not hold POOLS_ROLE on the canvas {canvas.address}: its trades "
                         "cannot re-colour tokens; give the pools the canvas's admin grants the role to")
    return canvas.w3.eth.contract(address=address, abi=pools_abi())
