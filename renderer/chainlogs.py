"""The one way this project reads logs: `eth_getLogs` in bounded block ranges.

Providers cap the block span (and the result size) of one `eth_getLogs` call, so
a query over a whole deployment must be split. Every reader of events in the
renderer (the daemon's reader, provenance, the pools, the gallery, the
watchtower) goes through `read_logs`, so the cap is honoured in one place.

The request is sent raw (renderer.rpcbatch) and each log formatted here exactly as
web3's `eth.get_logs` formats it (an AttributeDict with HexBytes hashes, topics and
data, integer numbers, a checksummed address): web3's middleware path cost about
half a millisecond of CPU per call besides the round trip, on every pass of the daemon.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from hexbytes import HexBytes
from web3 import Web3
from web3.datastructures import AttributeDict

from .rpcbatch import block_tag, call

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
    wire_topics = _wire_topics(topics) if topics else None
    for start, end in block_ranges(from_block, to_block, span):
        query = {"address": address, "fromBlock": block_tag(start), "toBlock": block_tag(end)}
        if wire_topics:
            query["topics"] = wire_topics
        logs.extend(_log_entry(raw) for raw in call(w3, "eth_getLogs", [query]))
    logs.sort(key=lambda log: (log["blockNumber"], log["logIndex"]))
    return logs


def _wire_topics(topics: list) -> list:
    """A topic filter as the wire writes it: hex strings (bytes accepted), None and nested ORs kept."""
    def one(topic):
        if topic is None or isinstance(topic, str):
            return topic
        if isinstance(topic, (list, tuple)):
            return [one(t) for t in topic]
        return "0x" + bytes(topic).hex()
    return [one(t) for t in topics]


_HASHES = ("blockHash", "transactionHash")
_NUMBERS = ("blockNumber", "transactionIndex", "logIndex")


def _log_entry(raw: dict) -> AttributeDict:
    """One raw log as web3's `eth.get_logs` returns it (its LOG_ENTRY_FORMATTERS, then AttributeDict)."""
    entry = dict(raw)
    for key in _HASHES:
        if entry.get(key) is not None:
            entry[key] = HexBytes(entry[key])
    for key in _NUMBERS:
        if isinstance(entry.get(key), str):
            entry[key] = int(entry[key], 16)
    entry["address"] = Web3.to_checksum_address(entry["address"])
    entry["topics"] = [HexBytes(topic) for topic in entry["topics"]]
    entry["data"] = HexBytes(entry["data"])
    return AttributeDict(entry)


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
