"""The shared chain reader on a real Anvil: confirmed ranges, the consumer's cursor, reorgs."""

from __future__ import annotations

import pytest

from renderer import wallet
from renderer.pipeline.reader import ChainReader, LogRange

from .helpers import COLLECTOR, SECOND, rpc

pytestmark = pytest.mark.e2e


class ListCursor:
    """A consumer that keeps its progress in memory: the smallest real Cursor."""

    def __init__(self, start_block: int):
        self.next_block = start_block
        self.blocks: list[tuple[int, str]] = []
        self.logs: list = []

    def record(self, chunk: LogRange) -> None:
        self.logs.extend(chunk.logs)
        self.blocks.append((chunk.end, chunk.end_hash))
        self.next_block = chunk.end + 1

    def rewind(self, ancestor: int) -> None:
        self.blocks = [(n, h) for n, h in self.blocks if n <= ancestor]
        self.logs = [log for log in self.logs if log["blockNumber"] <= ancestor]
        self.next_block = ancestor + 1

    def last_block(self):
        return self.blocks[-1] if self.blocks else None

    def blocks_before(self, number):
        return reversed([(n, h) for n, h in self.blocks if n < number])


def _minted_reader(canvas, start_block, **options):
    topic = canvas.contract.events.Minted().topic
    return ChainReader(canvas.w3, address=canvas.address, topics=[topic], start_block=start_block, **options)


def test_ranges_are_bounded_confirmed_and_resume_from_the_cursor(canvas, deployment):
    start = deployment["block"]
    tokens = [wallet.mint(canvas, COLLECTOR, f"reader {i}")[0] for i in range(3)]
    reader = _minted_reader(canvas, start, span=2, confirmations=1)
    cursor = ListCursor(start)
    chunks = []
    for chunk in reader.ranges(cursor):
        assert chunk.end - chunk.start < 2
        assert chunk.end_hash == reader.block_hash(chunk.end)
        chunks.append(chunk)
        cursor.record(chunk)
    head = canvas.w3.eth.block_number
    assert cursor.next_block == head  # the head itself has no confirmation yet
    found = [int.from_bytes(log["topics"][1], "big") for log in cursor.logs]
    assert found == tokens[:-1]
    assert next(reader.ranges(cursor), None) is None  # nothing new is confirmed
    rpc(canvas.w3, "anvil_mine", "0x1")
    for chunk in reader.ranges(cursor):
        cursor.record(chunk)
    assert [int.from_bytes(log["topics"][1], "big") for log in cursor.logs] == tokens


def test_a_consumer_that_does_not_record_a_range_is_stopped(canvas, deployment):
    wallet.mint(canvas, COLLECTOR, "unrecorded")
    reader = _minted_reader(canvas, deployment["block"])
    with pytest.raises(RuntimeError, match="did not move its cursor"):
        for _ in reader.ranges(ListCursor(deployment["block"])):
            pass


def test_a_reorg_is_found_and_the_newest_surviving_block_returned(canvas, deployment):
    reader = _minted_reader(canvas, deployment["block"], span=1)
    cursor = ListCursor(deployment["block"])
    wallet.mint(canvas, COLLECTOR, "kept")
    for chunk in reader.ranges(cursor):
        cursor.record(chunk)
    assert reader.reorged_to(cursor) is None
    kept_head = cursor.next_block - 1

    snapshot = rpc(canvas.w3, "evm_snapshot")
    dropped, _ = wallet.mint(canvas, SECOND, "dropped by the reorg")
    for chunk in reader.ranges(cursor):
        cursor.record(chunk)
    rpc(canvas.w3, "evm_revert", snapshot)
    rpc(canvas.w3, "anvil_mine", "0x3")  # a longer history with other hashes
    assert reader.reorged_to(cursor) == kept_head
    cursor.rewind(kept_head)
    for chunk in reader.ranges(cursor):
        cursor.record(chunk)
    assert dropped not in [int.from_bytes(log["topics"][1], "big") for log in cursor.logs]
    assert reader.reorged_to(cursor) is None


def test_a_reorg_below_every_recorded_block_rewinds_to_before_the_start(canvas, deployment):
    reader = _minted_reader(canvas, deployment["block"])
    cursor = ListCursor(deployment["block"])
    cursor.blocks = [(deployment["block"], "0x" + "00" * 32)]  # a hash the chain never had
    assert reader.reorged_to(cursor) == deployment["block"] - 1
