"""Everything the renderer reads from the chain, in one place.

"What the chain said" stays here as plain `CanvasEvent` values; what the
renderer does about it lives in the job store and the stages after it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property

from eth_abi import decode as abi_decode
from web3 import Web3
from web3.exceptions import BlockNotFound, ContractLogicError

from .chainlogs import DEFAULT_LOG_RANGE, read_logs, topic_of_uint
from .abi import load_abi
from .errors import ChainUnavailable, ChaosError, SetupError


def canvas_abi() -> list[dict]:
    return load_abi("ChaosCanvas")


def attach_contract(w3: Web3, address: str, name: str, option: str):
    """The web3 contract `name` (an ABI in renderer/abi) at `address`, given by the user as `option`:
    a clear error for a value that is not an address, or an address without code on this chain."""
    if not Web3.is_address(address):
        raise ChaosError(f"{option} {address!r} is not an address")
    address = Web3.to_checksum_address(address)
    if not w3.eth.get_code(address):
        raise ChaosError(f"no contract at {address}: is {option} the {name} of this chain?")
    return w3.eth.contract(address=address, abi=load_abi(name))


def connect(rpc_url: str, timeout: float = 20.0, expected_chain_id: int | None = None) -> Web3:
    """A connected Web3, or a ChainUnavailable that says where it looked."""
    if rpc_url.startswith(("ws://", "wss://")):
        raise SetupError(f"use an http(s) RPC URL, not {rpc_url}")
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    try:
        w3.eth.chain_id
    except Exception as exc:  # requests' and web3's connection errors have no common base
        raise ChainUnavailable(f"cannot reach the Ethereum RPC node at {rpc_url} ({type(exc).__name__}); "
                               "is the node running? set CHAOS_RPC_URL or --rpc-url") from None
    if expected_chain_id is not None and w3.eth.chain_id != expected_chain_id:
        raise SetupError(f"{rpc_url} serves chain {w3.eth.chain_id}, not the expected {expected_chain_id}: "
                         "wrong RPC URL, or fix CHAOS_CHAIN_ID / --chain-id")
    return w3


@dataclass(frozen=True)
class CanvasEvent:
    """A Minted, Mutated, Recoloured, Observed or Revealed event, as the chain said it."""

    kind: str  # "mint", "mutation", "recolour", "observation" or "reveal"
    token_id: int
    generation: int
    block_number: int
    block_hash: str
    tx_hash: str
    log_index: int
    # mint: minter, seed, prompt; mutation: entropy, from, to; recolour: none;
    # observation: observer, entropy; reveal: layer_prompt, entropy
    args: dict
    #: What the colour pools said at this block (renderer.colour.ColourInputs.to_provenance),
    #: read beside the event when the canvas has pools; None otherwise.
    colour: dict | None = None
    #: Mutations: the base fee of this block and the glitch it draws
    #: (renderer.congestion.Congestion.to_provenance), read once per block at intake; None otherwise.
    congestion: dict | None = None

    def to_json(self) -> str:
        """The store's copy of the event. The same text as `json.dumps(asdict(self), sort_keys=True)`
        made, without asdict's deep copy of the nested dicts (it was most of the store's cost per
        event at ingest): the fields' values are JSON types already."""
        return json.dumps({"args": self.args, "block_hash": self.block_hash, "block_number": self.block_number,
                           "colour": self.colour, "congestion": self.congestion, "generation": self.generation,
                           "kind": self.kind, "log_index": self.log_index, "token_id": self.token_id,
                           "tx_hash": self.tx_hash}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CanvasEvent:
        return cls(**json.loads(text))


def _hex(value) -> str:
    return "0x" + bytes(value).hex()


def _mint_args(log) -> dict:
    """Minted's fields. The prompt is decoded by hand: the contract stores whatever bytes it was
    sent, and a strict UTF-8 decoder would turn one bad mint into a daemon that cannot read on."""
    seed, prompt_bytes = abi_decode(["bytes32", "bytes"], bytes(log["data"]))
    minter = Web3.to_checksum_address(log["topics"][2][-20:])
    args = {"minter": minter, "seed": _hex(seed), "prompt": prompt_bytes.decode("utf-8", errors="replace")}
    try:
        prompt_bytes.decode("utf-8")
    except UnicodeDecodeError:
        # Keep the exact bytes too: the render uses the replaced text, provenance keeps the truth.
        args["prompt_hex"] = _hex(prompt_bytes)
    return args


def _mutation_args(log) -> dict:
    """Mutated's data fields, decoded directly (0.17 ms a log, where web3's generic
    `process_log` took 0.77 ms)."""
    entropy, sender, receiver = abi_decode(["bytes32", "address", "address"], bytes(log["data"]))
    return {"entropy": _hex(entropy), "from": Web3.to_checksum_address(sender), "to": Web3.to_checksum_address(receiver)}


def _reveal_args(log) -> dict:
    """Revealed's fields; the layer prompt decoded leniently, as a mint's prompt is."""
    prompt_bytes, entropy = abi_decode(["bytes", "bytes32"], bytes(log["data"]))
    args = {"layer_prompt": prompt_bytes.decode("utf-8", errors="replace"), "entropy": _hex(entropy)}
    try:
        prompt_bytes.decode("utf-8")
    except UnicodeDecodeError:
        args["layer_prompt_hex"] = _hex(prompt_bytes)
    return args


@dataclass(frozen=True)
class SealState:
    """A token's sealed layer as the canvas holds it (`sealOf`); commitment None: never sealed."""

    commitment: str | None
    unlock_at: int
    revealed: bool

    @property
    def pending(self) -> bool:
        return self.commitment is not None and not self.revealed

    def to_json(self) -> dict:
        return {"commitment": self.commitment, "unlock_at": self.unlock_at, "revealed": self.revealed,
                "state": "none" if self.commitment is None else "revealed" if self.revealed else "sealed"}


class Canvas:
    """Read access to one deployed ChaosCanvas."""

    def __init__(self, w3: Web3, address: str):
        if not address or not Web3.is_address(address):
            raise SetupError(f"{address!r} is not a contract address: set CHAOS_CANVAS or --canvas "
                             "(the address `chaos deploy` printed)")
        self.w3 = w3
        self.address = Web3.to_checksum_address(address)
        if not w3.eth.get_code(self.address):
            raise SetupError(f"no contract code at {self.address} on chain {w3.eth.chain_id}: "
                             "wrong address, wrong network, or the node was restarted since the deployment")
        self.contract = w3.eth.contract(address=self.address, abi=canvas_abi())

    @cached_property
    def chain_id(self) -> int:
        return self.w3.eth.chain_id

    def head(self) -> int:
        return self.w3.eth.block_number

    def block_hash(self, number: int) -> str | None:
        """The canonical hash at `number`, or None past the head (a reorg can shorten the chain)."""
        try:
            return self.w3.eth.get_block(number)["hash"].to_0x_hex()
        except BlockNotFound:
            return None

    def event_topics(self, token_id: int | None = None) -> list:
        """The topic filter of every event that starts a generation: Minted, Mutated, Recoloured,
        Observed and Revealed (of one token if given)."""
        events = self.contract.events
        topics = [[events.Minted().topic, events.Mutated().topic, events.Recoloured().topic,
                   events.Observed().topic, events.Revealed().topic]]
        if token_id is not None:
            topics.append(topic_of_uint(token_id))
        return topics

    def decode_events(self, logs: list) -> list[CanvasEvent]:
        """CanvasEvents of raw Minted, Mutated, Recoloured, Observed and Revealed logs, in chain order."""
        minted = Web3.to_bytes(hexstr=self.contract.events.Minted().topic)
        recoloured = Web3.to_bytes(hexstr=self.contract.events.Recoloured().topic)
        mutated = Web3.to_bytes(hexstr=self.contract.events.Mutated().topic)
        observed = Web3.to_bytes(hexstr=self.contract.events.Observed().topic)
        revealed = Web3.to_bytes(hexstr=self.contract.events.Revealed().topic)
        events = []
        for log in logs:
            token_id = int.from_bytes(log["topics"][1], "big")
            if log["topics"][0] == minted:
                kind, generation, args = "mint", 0, _mint_args(log)
            elif log["topics"][0] == recoloured:
                kind, generation, args = "recolour", int.from_bytes(log["topics"][2], "big"), {}
            elif log["topics"][0] == mutated:
                kind, generation, args = "mutation", int.from_bytes(log["topics"][2], "big"), _mutation_args(log)
            elif log["topics"][0] == observed:
                observer, entropy = abi_decode(["address", "bytes32"], bytes(log["data"]))
                kind, generation = "observation", int.from_bytes(log["topics"][2], "big")
                args = {"observer": Web3.to_checksum_address(observer), "entropy": _hex(entropy)}
            elif log["topics"][0] == revealed:
                kind, generation = "reveal", int.from_bytes(log["topics"][2], "big")
                args = _reveal_args(log)
            else:
                raise ValueError(f"log {log['transactionHash'].to_0x_hex()}:{log['logIndex']} is not a canvas event")
            events.append(CanvasEvent(kind, token_id, generation, log["blockNumber"], log["blockHash"].to_0x_hex(),
                                      log["transactionHash"].to_0x_hex(), log["logIndex"], args))
        events.sort(key=lambda e: (e.block_number, e.log_index))
        return events

    def events(self, from_block: int, to_block: int | str, token_id: int | None = None,
               span: int = DEFAULT_LOG_RANGE) -> list[CanvasEvent]:
        """Minted, Mutated and Recoloured events in [from_block, to_block] (of one token if given),
        in chain order, read in ranges of at most `span` blocks."""
        return self.decode_events(read_logs(self.w3, address=self.address, topics=self.event_topics(token_id),
                                            from_block=from_block, to_block=to_block, span=span))

    def commits(self, token_id: int, from_block: int = 0) -> list[dict]:
        """Every commit of a token, in chain order (block, log index, record position): its
        RenderCommitted events (`commit`) and its records in BatchRenderCommitted events
        (`commitBatch`). Each: generation, cid, block_number, tx_hash."""
        from .chainlogs import read_events
        from .cid import raw_cid_of_digest
        from .commit_records import unpack_records

        found = []  # (block, log index, record position, generation, digest, tx)
        for log in read_events(self.w3, self.contract.events.RenderCommitted(), address=self.address,
                               from_block=from_block, argument_topics=[topic_of_uint(token_id)]):
            found.append((log.blockNumber, log.logIndex, 0, log.args.generation, log.args.digest, log.transactionHash))
        # A batch names its tokens only in its data: every batch is read and its records filtered.
        for log in read_events(self.w3, self.contract.events.BatchRenderCommitted(), address=self.address,
                               from_block=from_block):
            found.extend((log.blockNumber, log.logIndex, position, record.generation, record.digest,
                          log.transactionHash)
                         for position, record in enumerate(unpack_records(log.args.records))
                         if record.token_id == token_id)
        found.sort(key=lambda f: f[:3])
        return [{"generation": generation, "cid": raw_cid_of_digest(digest), "block_number": block,
                 "tx_hash": tx.to_0x_hex()} for block, _, _, generation, digest, tx in found]

    def commit_call(self, token_id: int, generation: int, cid: str):
        """The contract call that commits one generation's metadata CID (not yet sent).
        The one place that knows how a commit is encoded on-chain: the canvas takes the
        sha2-256 digest of a CIDv1 raw CID (cid.UnsupportedCid for any other CID)."""
        from .cid import raw_sha256_digest

        return self.contract.functions.commit(token_id, generation, raw_sha256_digest(cid))

    def commit_batch_call(self, items: list[tuple[int, int, str]]):
        """The contract call that commits many (token id, generation, metadata CID) at once:
        48-byte records, uint64 token id | uint64 generation | sha2-256 digest (ChaosCanvas.commitBatch)."""
        from .cid import raw_sha256_digest
        from .commit_records import pack_records

        return self.contract.functions.commitBatch(
            pack_records((token_id, generation, raw_sha256_digest(cid)) for token_id, generation, cid in items))

    def last_commit(self, token_id: int) -> tuple[bool, int, str]:
        return tuple(self.contract.functions.lastCommit(token_id).call())

    def owner_of(self, token_id: int) -> str | None:
        try:
            return self.contract.functions.ownerOf(token_id).call()
        except ContractLogicError:
            return None

    def seal_of(self, token_id: int, block: int | str = "latest") -> SealState:
        """The token's sealed layer (the gallery shows a pending one with its unlock time)."""
        commitment, unlock_at, revealed = self.contract.functions.sealOf(token_id).call(block_identifier=block)
        commitment = bytes(commitment)
        return SealState(_hex(commitment) if any(commitment) else None, int(unlock_at), bool(revealed))

    def sealed_commitments(self, token_id: int, from_block: int = 0) -> list[dict]:
        """Every Sealed event of a token, in chain order: commitment, unlock_at, block, tx."""
        from .chainlogs import read_events

        logs = read_events(self.w3, self.contract.events.Sealed(), address=self.address,
                           from_block=from_block, argument_topics=[topic_of_uint(token_id)])
        return [{"commitment": _hex(log.args.commitment), "unlock_at": log.args.unlockAt,
                 "block_number": log.blockNumber, "tx_hash": log.transactionHash.to_0x_hex()} for log in logs]

    def token_uri(self, token_id: int) -> str:
        return self.contract.functions.tokenURI(token_id).call()

    def has_renderer_role(self, account: str) -> bool:
        role = self.contract.functions.RENDERER_ROLE().call()
        return self.contract.functions.hasRole(role, account).call()
