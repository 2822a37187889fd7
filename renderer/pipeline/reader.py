"""Confirmed, unread log ranges from a cursor, and the check that the cursor's past is still canonical.

The reader keeps no state of its own: whoever consumes the logs persists its
progress (the job store for the daemon, the watchtower's own table) behind the
small `Cursor` protocol, and records each range's end and end hash in the same
transaction as what it made of the logs. A crash therefore never skips or
repeats a range, and a reorg is found by comparing recorded hashes with the
chain's, newest first, down to the newest one that still matches.

A range's end hash is always read before its logs: if the chain reorganises in
between, the recorded hash is the replaced one and the next check rewinds (read
after the logs, it could vouch for logs it never covered). Headers are read raw
(renderer.rpcbatch), and `check` asks for the reorg check's header and the head's
in one round trip: with the daemon's batch of colour inputs, a pass over one new
block costs three round trips, where web3 calls one by one took four and two or
three more per event.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from web3 import Web3

from ..chainlogs import DEFAULT_LOG_RANGE, read_logs
from ..rpcbatch import batch, call, header


class Cursor(Protocol):
    """What the reader needs from whoever persists progress."""

    @property
    def next_block(self) -> int:
        """The first block not yet read."""

    def last_block(self) -> tuple[int, str] | None:
        """The newest (number, hash) recorded, or None before the first range."""

    def blocks_before(self, number: int) -> Iterable[tuple[int, str]]:
        """Recorded (number, hash) pairs below `number`, newest first (read lazily where possible:
        the reorg check stops at the first match)."""


@dataclass(frozen=True)
class LogRange:
    """Logs of blocks [start, end], in chain order; `end_hash` is what the consumer records."""

    start: int
    end: int
    end_hash: str
    logs: list


@dataclass(frozen=True)
class Head:
    """The chain's newest block when it was read."""

    number: int
    hash: str


class ChainReader:
    """Reads the logs of one address (and topic filter) in confirmed, bounded ranges."""

    def __init__(self, w3: Web3, *, address, topics: list | None, confirmations: int = 0,
                 span: int = DEFAULT_LOG_RANGE, start_block: int = 0):
        if confirmations < 0:
            raise ValueError(f"confirmations must be 0 or more, not {confirmations}")
        if span < 1:
            raise ValueError(f"a log range must span at least one block, not {span}")
        self.w3 = w3
        self.address = address
        self.topics = topics
        self.confirmations = confirmations
        self.span = span
        self.start_block = start_block

    def block_hash(self, number: int) -> str | None:
        """The canonical hash at `number`, or None past the head (a reorg can shorten the chain)."""
        block = call(self.w3, *header(number))
        return None if block is None else block["hash"]

    def head(self) -> Head:
        block = call(self.w3, *header("latest"))
        return Head(int(block["number"], 16), block["hash"])

    def safe_head(self) -> int:
        """The newest block buried under the configured confirmations."""
        return self.head().number - self.confirmations

    def check(self, cursor: Cursor) -> tuple[int | None, Head]:
        """`reorged_to(cursor)` and the head, from one round trip (pass the head to `ranges`)."""
        last = cursor.last_block()
        if last is None:
            return None, self.head()
        latest, recorded = batch(self.w3, [header("latest"), header(last[0])])
        head = Head(int(latest["number"], 16), latest["hash"])
        if recorded is not None and recorded["hash"] == last[1]:
            return None, head
        return self._walk_back(cursor, last[0]), head

    def reorged_to(self, cursor: Cursor) -> int | None:
        """None while the newest recorded block is canonical; otherwise the newest recorded block
        that still is (start_block - 1 when none is), which the consumer rewinds to."""
        last = cursor.last_block()
        if last is None or self.block_hash(last[0]) == last[1]:
            return None
        return self._walk_back(cursor, last[0])

    def _walk_back(self, cursor: Cursor, replaced: int) -> int:
        for number, recorded in cursor.blocks_before(replaced):
            if self.block_hash(number) == recorded:
                return number
        return self.start_block - 1

    def ranges(self, cursor: Cursor, head: Head | None = None) -> Iterator[LogRange]:
        """Confirmed, unread ranges from `cursor.next_block` up to the safe head (fixed when the
        iteration starts: `head` if given, read before any range's logs, else read now). The
        consumer persists each range before asking for the next: the next range starts wherever
        the cursor then says."""
        head = head or self.head()
        safe_head = head.number - self.confirmations
        while (start := cursor.next_block) <= safe_head:
            end = min(start + self.span - 1, safe_head)
            end_hash = head.hash if end == head.number else self.block_hash(end)
            if end_hash is None:  # the chain shrank under us (a reorg); the next pass checks it
                return
            logs = read_logs(self.w3, address=self.address, topics=self.topics, from_block=start,
                             to_block=end, span=self.span)
            yield LogRange(start, end, end_hash, logs)
            if cursor.next_block <= start:
                raise RuntimeError(f"the consumer of blocks {start}-{end} did not move its cursor past them: "
                                   "record each range (its end and end_hash) before asking for the next")
