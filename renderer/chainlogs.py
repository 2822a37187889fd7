"""The one way this project reads logs: `eth_getLogs` in bounded block ranges.

Providers cap the block span (and the result size) of one `eth_getLogs` call, so
a query over a whole deployment must be split. Every reader of events in the
renderer (the daemon's reader, provenance, the pools, the gallery, the
watchtower) goes through `read_logs`, so the cap is honoured in one place.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from web3 import Web3

#: Default widest span of one call; Settings.log_range overrides it where a node is stricter.
DEFAULT_LOG_RANGE = 2_000


def block_ranges(from_block: int, to_block: int, span: int) -> Iterator[tuple[int, int]]:
    """Inclusive [start, end] ranges of at most `span` blocks covering [from_block, to_block]."""
    if span < 1:
        raise ValueError(f"a log range must span at least one block, not {span}")
    start = from_block
    while start <= to_block:
        end = min(start + span - 1, to_block)
        yield start, end
        start = end + 1


def read_logs(w3: Web3, *, address: str | Sequence[str], topics: list | None = None, from_block: int = 0,
              to_block: int | str = "latest", span: int = DEFAULT_LOG_RANGE) -> list:
    """Every log matching (address, topics) in [from_block, to_block], in chain order.

    `to_block` may be a tag ("latest"); it is resolved once, so the ranges cover a fixed interval.
    """
    if isinstance(to_block, str):
        to_block = w3.eth.get_block(to_block)["number"]
    logs = []
    for start, end in block_ranges(from_block, to_block, span):
        query = {"address": address, "fromBlock": start, "toBlock": end}
        if topics:
            query["topics"] = topics
        logs.extend(w3.eth.get_logs(query))
    logs.sort(key=lambda log: (log["blockNumber"], log["logIndex"]))
    return logs


def read_events(w3: Web3, event, *, address: str, from_block: int = 0, to_block: int | str = "latest",
                span: int = DEFAULT_LOG_RANGE, argument_topics: list | None = None) -> list:
    """Decoded logs of one web3 contract event (e.g. `contract.events.RenderCommitted()`),
    read in bounded ranges. `argument_topics` are the topics after the event's own (indexed args)."""
    topics = [event.topic, *(argument_topics or [])]
    return [event.process_log(log) for log in read_logs(w3, address=address, topics=topics,
                                                        from_block=from_block, to_block=to_block, span=span)]


def topic_of_uint(value: int) -> str:
    """The topic of an indexed uint argument."""
    return "0x" + value.to_bytes(32, "big").hex()
