"""What a range's events need from the chain besides their logs, read in one JSON-RPC batch.

Per block with events: the pools' state (`poolState()`, the same for every event of the
block) and, where the block holds a mutation, its header (the base fee, renderer.congestion).
Per (block, token): the token's own pigment (`effectiveWeights(tokenId)`) at that block.
Every call is made at the event's block, so the inputs are exactly what the per-call
readers (`renderer.colour.read_colour_inputs`, `renderer.congestion.read_base_fee`, which
the verifier uses) return for it; only the number of round trips and web3 calls changes.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..chain import CanvasEvent
from ..colour import ColourInputs
from ..pools import hue_states
from ..rpcbatch import ContractCall, RpcError, batch, header


class ColourUnreadable(Exception):
    """The node answered, but could not say what the pools held at `block` (e.g. it pruned that
    block's state, or the pools had no code there)."""

    def __init__(self, block: int, reason: str):
        super().__init__(reason)
        self.block = block


class BlockVanished(Exception):
    """A block of the range is gone (the chain got shorter under the reader: a reorg)."""


@dataclass(frozen=True)
class RangeInputs:
    """The colour inputs of each (block, token) and the base fee of each mutation block."""

    colour: dict[tuple[int, int], ColourInputs]
    base_fees: dict[int, int]


class RangeInputReader:
    """Builds and decodes the one batch that gives a range's events their colour inputs and base fees."""

    def __init__(self, w3, pools=None):
        self.w3 = w3
        #: None for a canvas without pools: then only headers are read.
        self.pools = pools
        self.pool_state = ContractCall(pools, "poolState") if pools is not None else None
        self.weights = ContractCall(pools, "effectiveWeights") if pools is not None else None

    def read(self, events: list[CanvasEvent]) -> RangeInputs:
        blocks = list(dict.fromkeys(e.block_number for e in events))
        tokens = list(dict.fromkeys((e.block_number, e.token_id) for e in events))
        mutated = list(dict.fromkeys(e.block_number for e in events if e.kind == "mutation"))
        requests = [header(block) for block in mutated]
        if self.pools is not None:
            requests += [self.pool_state.request(block=block) for block in blocks]
            requests += [self.weights.request(token, block=block) for block, token in tokens]
        if not requests:
            return RangeInputs({}, {})
        try:
            results = batch(self.w3, requests)
        except RpcError as exc:
            if exc.method == "eth_call":
                raise ColourUnreadable(int(exc.params[1], 16), str(exc)) from None
            raise
        headers, results = results[:len(mutated)], results[len(mutated):]
        base_fees = {}
        for block, answer in zip(mutated, headers):
            if answer is None:
                raise BlockVanished(f"block {block} is no longer on the chain")
            base_fees[block] = int(answer.get("baseFeePerGas") or "0x0", 16)  # 0 before EIP-1559
        if self.pools is None:
            return RangeInputs({}, base_fees)
        states, colour = {}, {}
        for block, answer in zip(blocks, results[:len(blocks)]):
            states[block] = tuple(hue_states(self._decode(self.pool_state, answer, block)[0]))
        for (block, token), answer in zip(tokens, results[len(blocks):]):
            weights = tuple(int(w) for w in self._decode(self.weights, answer, block)[0])
            colour[(block, token)] = ColourInputs(self.pools.address, block, weights, states[block])
        return RangeInputs(colour, base_fees)

    @staticmethod
    def _decode(function: ContractCall, answer, block: int) -> tuple:
        try:
            return function.decode(answer)
        except Exception as exc:  # eth_abi's decoding errors have no common base with ValueError
            raise ColourUnreadable(block, f"{type(exc).__name__}: {exc}") from None
