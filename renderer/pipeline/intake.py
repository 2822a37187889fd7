"""The read stage: the canvas's new events, with what the colour pools said at their blocks and
(mutations) their block's base fee, into the store.

The store is the reader's cursor: each range's jobs, its end block and end hash
are written in one transaction, so a crash never skips or repeats a range.
A range's colour inputs and base fees come in one JSON-RPC batch (renderer.pipeline.rangeinputs):
per event, web3's per-call path cost more CPU than everything else the daemon reads.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from ..chain import Canvas, CanvasEvent
from ..congestion import DEFAULT_THRESHOLD_WEI, Congestion
from ..errors import SetupError
from ..failpoints import failpoint
from ..store import JobStore
from .rangeinputs import BlockVanished, ColourUnreadable, RangeInputReader, RangeInputs
from .reader import ChainReader, Head

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
        self.inputs = RangeInputReader(canvas.w3, pools)

    def read(self) -> int:
        """Queue the jobs of every new block that has the configured confirmations."""
        head = self.rewind_if_reorged()
        created = 0
        for chunk in self.reader.ranges(self.store, head):
            events = self.canvas.decode_events(chunk.logs)
            try:
                inputs = self._read_inputs(events)
            except BlockVanished as exc:  # the chain got shorter since the range was read
                log.info("blocks %d-%d changed while being read (%s); the next pass checks for a reorg",
                         chunk.start, chunk.end, exc)
                break
            events = [self._with_congestion(self._with_colour(event, inputs), inputs) for event in events]
            created += self.store.ingest(events, chunk.end, chunk.end_hash)
            failpoint("after-read")
            if events:
                log.info("read blocks %d-%d: %d event(s)", chunk.start, chunk.end, len(events))
        return created

    def rewind_if_reorged(self) -> Head:
        """If the newest block read has another hash now, rewind to the newest one that still matches.
        Returns the chain's head, read in the same round trip as the check."""
        ancestor, head = self.reader.check(self.store)
        if ancestor is None:
            return head
        dropped = self.store.rewind(ancestor)
        log.warning("reorg: the blocks after %d were replaced; rewound to it, dropping %d job(s) to re-derive: %s",
                    ancestor, len(dropped), ", ".join(f"{j.token_id}/{j.generation}" for j in dropped),
                    extra={"event": "reorg", "ancestor": ancestor})
        return head

    def _read_inputs(self, events: list[CanvasEvent]) -> RangeInputs:
        """The colour inputs and base fees of a range's events, in one batch: read now, while that
        state is recent (a node that is not an archive forgets old state), and kept with the jobs.
        The pools' state and a header are read once per block, the token's own pigment once per
        token and block."""
        try:
            return self.inputs.read(events)
        except self.rpc_outages:
            raise
        except ColourUnreadable as exc:  # e.g. "missing trie node": the node pruned that block's state
            raise SetupError(f"the node cannot say what the colour pools held at block {exc.block} ({exc}); point "
                             "--rpc-url at an archive node, or one that still keeps the state of the blocks "
                             "being read: every render's colours come from them") from None

    def _with_colour(self, event: CanvasEvent, inputs: RangeInputs) -> CanvasEvent:
        """The event with what the pools said at its block (None for a canvas without pools)."""
        if self.pools is None:
            return event
        return replace(event, colour=inputs.colour[(event.block_number, event.token_id)].to_provenance())

    def _with_congestion(self, event: CanvasEvent, inputs: RangeInputs) -> CanvasEvent:
        """A mutation with its block's base fee (from the header; anyone can read it) and the threshold
        it is judged against: the glitch is then fixed with the job, whatever the setting later says."""
        if event.kind != "mutation":
            return event
        congestion = Congestion(inputs.base_fees[event.block_number], self.congestion_threshold_wei)
        return replace(event, congestion=congestion.to_provenance())
