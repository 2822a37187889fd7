"""The read stage: the canvas's new events, with what the colour pools said at their blocks and
(mutations) their block's base fee, into the store.

The store is the reader's cursor: each range's jobs, its end block and end hash
are written in one transaction, so a crash never skips or repeats a range.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from ..chain import Canvas, CanvasEvent
from ..colour import read_colour_inputs
from ..congestion import DEFAULT_THRESHOLD_WEI, Congestion, read_base_fee
from ..errors import SetupError
from ..failpoints import failpoint
from ..pools import read_pool_state
from ..store import JobStore
from .reader import ChainReader

log = logging.getLogger("chaos.daemon")


class Intake:
    def __init__(self, canvas: Canvas, store: JobStore, reader: ChainReader, pools=None,
                 rpc_outages: tuple[type[BaseException], ...] = (),
                 congestion_threshold_wei: int = DEFAULT_THRESHOLD_WEI):
        self.canvas = canvas
        self.store = store
        self.reader = reader
        #: The ColourPools web3 contract, or None for a canvas without pools.
        self.pools = pools
        self.rpc_outages = rpc_outages
        #: What a mutation's block base fee is judged against (renderer.congestion), kept with each job.
        self.congestion_threshold_wei = congestion_threshold_wei

    def read(self) -> int:
        """Queue the jobs of every new block that has the configured confirmations."""
        self.rewind_if_reorged()
        created = 0
        for chunk in self.reader.ranges(self.store):
            # One header read and one pools-state read per block, however many events it holds.
            base_fees: dict[int, int] = {}
            pool_states: dict[int, list] = {}
            events = [self._with_congestion(self._with_colour(event, pool_states), base_fees)
                      for event in self.canvas.decode_events(chunk.logs)]
            created += self.store.ingest(events, chunk.end, chunk.end_hash)
            failpoint("after-read")
            if events:
                log.info("read blocks %d-%d: %d event(s)", chunk.start, chunk.end, len(events))
        return created

    def rewind_if_reorged(self) -> None:
        """If the newest block read has another hash now, rewind to the newest one that still matches."""
        ancestor = self.reader.reorged_to(self.store)
        if ancestor is None:
            return
        dropped = self.store.rewind(ancestor)
        log.warning("reorg: the blocks after %d were replaced; rewound to it, dropping %d job(s) to re-derive: %s",
                    ancestor, len(dropped), ", ".join(f"{j.token_id}/{j.generation}" for j in dropped),
                    extra={"event": "reorg", "ancestor": ancestor})

    def _with_colour(self, event: CanvasEvent, pool_states: dict[int, list]) -> CanvasEvent:
        """The event with what the pools said at its block: read now, while that state is recent
        (a node that is not an archive forgets old state), and kept with the job. The pools' state
        is read once per block (`pool_states`); the token's own pigment once per event."""
        if self.pools is None:
            return event
        try:
            block = event.block_number
            if block not in pool_states:
                pool_states[block] = read_pool_state(self.pools, block_identifier=block)
            inputs = read_colour_inputs(self.pools, event.token_id, block, states=pool_states[block])
        except self.rpc_outages:
            raise
        except Exception as exc:  # e.g. "missing trie node": the node pruned that block's state
            raise SetupError(f"the node cannot say what the colour pools held at block {event.block_number} "
                             f"({type(exc).__name__}: {exc}); point --rpc-url at an archive node, or one that still "
                             "keeps the state of the blocks being read: every render's colours come from them") from None
        return replace(event, colour=inputs.to_provenance())

    def _with_congestion(self, event: CanvasEvent, base_fees: dict[int, int]) -> CanvasEvent:
        """A mutation with its block's base fee (from the header; anyone can read it) and the threshold
        it is judged against: the glitch is then fixed with the job, whatever the setting later says."""
        if event.kind != "mutation":
            return event
        if event.block_number not in base_fees:
            base_fees[event.block_number] = read_base_fee(self.canvas.w3, event.block_number)
        congestion = Congestion(base_fees[event.block_number], self.congestion_threshold_wei)
        return replace(event, congestion=congestion.to_provenance())
