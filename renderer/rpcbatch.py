"""JSON-RPC requests sent raw, many in one HTTP round trip, through the web3 provider's own session.

The read stage asks the node for many small things per block range: every header it needs,
the pools' state at every block and each event's pigment at its block. Through web3's
per-call path each costs milliseconds of CPU (middlewares, request and result formatters,
its ABI codec, a chain-id lookup per contract call) besides the node's own work, so the
reader sends them as one JSON-RPC batch with the provider's `make_batch_request` (same
session, URL, headers and timeout as every other call) and encodes and decodes the
contract calls with eth_abi directly (`ContractCall`).

A transport failure is retried as web3 retries its read calls, then raises what the provider
raises (requests' ConnectionError and Timeout: the daemon's RPC outages, waited out by its
loop); an error answer to one request raises `RpcError`, naming the request.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils.abi import function_abi_to_4byte_selector, get_abi_input_types, get_abi_output_types

#: Most requests in one POST: providers cap a batch's size (hosted ones at a few hundred to a
#: thousand), so a longer list is sent in several batches.
BATCH_LIMIT = 500


class RpcError(Exception):
    """The node answered one request of a batch with an error (its JSON-RPC code and message)."""

    def __init__(self, method: str, params: list, error: dict | str):
        message = error.get("message", error) if isinstance(error, dict) else error
        code = error.get("code") if isinstance(error, dict) else None
        super().__init__(f"{method} {_brief(params)}: {message}" + (f" (code {code})" if code is not None else ""))
        self.method, self.params, self.error = method, params, error


def _brief(params: list) -> str:
    text = repr(params)
    return text if len(text) <= 160 else text[:157] + "..."


def batch(w3, requests: Sequence[tuple[str, list]], limit: int = BATCH_LIMIT) -> list:
    """The results of `requests` ((method, params) pairs, params as the JSON-RPC wire has them),
    in order, in as few round trips as `limit` allows. A `null` result stays None (a block
    past the head); an error answer raises RpcError."""
    results: list = []
    for first in range(0, len(requests), limit):
        chunk = list(requests[first:first + limit])
        answers = _send(w3.provider, chunk) if len(chunk) > 1 else None
        if answers is None or isinstance(answers, dict):
            # One request, or a node that refuses batches (it answers one error object): one POST each.
            answers = [w3.provider.make_request(method, params) for method, params in chunk]
        if len(answers) != len(chunk):
            raise RpcError("batch", [f"{len(chunk)} requests"], f"the node answered {len(answers)} of them")
        for (method, params), answer in zip(chunk, answers):
            if answer.get("error") is not None:
                raise RpcError(method, params, answer["error"])
            results.append(answer.get("result"))
    return results


def _send(provider, chunk: list):
    """POST one batch, retried on a dropped connection as web3 retries its own read calls (the
    provider's `exception_retry_configuration`: by default 5 tries, 0.125 s doubling between them);
    every request batched here only reads, so a retry is harmless."""
    retry = getattr(provider, "exception_retry_configuration", None)
    tries, errors = (retry.retries, tuple(retry.errors)) if retry else (1, ())
    for attempt in range(tries):
        try:
            return provider.make_batch_request(chunk)
        except errors:
            if attempt == tries - 1:
                raise
            time.sleep(retry.backoff_factor * 2**attempt)


def call(w3, method: str, params: list):
    """One raw request (no web3 formatters, the provider's own retries): its result, or RpcError."""
    return batch(w3, [(method, params)])[0]


def block_tag(block: int | str) -> str:
    """A block number as the wire writes it (a tag such as "latest" passes through)."""
    return block if isinstance(block, str) else hex(block)


def header(block: int | str) -> tuple[str, list]:
    """The request for a block's header (no transactions): None past the head."""
    return "eth_getBlockByNumber", [block_tag(block), False]


class ContractCall:
    """One view function of a web3 contract, as raw `eth_call` requests: encoded and decoded with
    eth_abi from the function's ABI, so a batch of them skips web3's per-call machinery."""

    def __init__(self, contract, name: str):
        abi = contract.get_function_by_name(name).abi
        self.name = name
        self.address = contract.address
        self.selector = function_abi_to_4byte_selector(abi)
        self.input_types = get_abi_input_types(abi)
        self.output_types = get_abi_output_types(abi)

    def request(self, *args, block: int | str) -> tuple[str, list]:
        data = self.selector + abi_encode(self.input_types, args)
        return "eth_call", [{"to": self.address, "data": "0x" + data.hex()}, block_tag(block)]

    def decode(self, result: str | None) -> tuple:
        """The call's outputs; an empty answer (no contract code at that block) raises ValueError."""
        data = bytes.fromhex((result or "0x")[2:])
        if not data and self.output_types:
            raise ValueError(f"{self.name}() at {self.address} returned no data: no contract code at that block")
        return abi_decode(self.output_types, data)
