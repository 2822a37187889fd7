"""What the gallery page asks, answered from the chain and IPFS alone, as plain dicts.

Nothing here writes: the chain is read through `chain.Canvas`, a token's
generations through `provenance.load_history` and `history.chain_history_rows`
(the same walk `chaos history` prints), each generation's trust badge through
`verify.Verifier` (the verdict `chaos verify` prints), IPFS through `CidCache`. Bytes named
by a CID never change, so they are kept in memory; owners, generations and
prices are read afresh on every request.

The carbon-14 probe (`probe`) answers a click on a pixel from the token's history as the token's
page last loaded it (renderer.probe over its pinned age layers): a click reads nothing from the chain
unless it asks about a generation that history does not hold yet, which reloads it once.
Sealed layers are read with the token (`sealOf`, and the reveal generations among its events);
`observe_request` gives the EIP-712 typed data a holder's browser wallet signs to observe the token.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections import OrderedDict

from eth_utils import function_abi_to_4byte_selector
from web3 import Web3
from web3.exceptions import ContractLogicError

from ..cid import file_cid
from ..errors import IpfsUnavailable
from ..history import chain_history_rows
from ..memory import age_png
from ..observer import observe_typed_data
from ..probe import OutsideImage, ProbeCache, ProbeError, TokenAges
from ..provenance import load_history
from ..verify import Verifier
from . import pools as colour_pools

#: What a CID in a URL may look like: CIDv1 in base32 (the only spelling the canvas's metadata uses).
CID_PATTERN = re.compile(r"^b[a-z2-7]{20,120}$")
NO_POOLS = "no colour pools on this canvas"
#: Bounds of the grid's query: no canvas has more pages than this, nor may a page be larger.
MAX_PAGE = 10**6
MAX_PER_PAGE = 200
MAX_TOKEN_ID = 2**256 - 1
#: The largest pixel coordinate a URL may name before the image's own size is known.
MAX_COORDINATE = 2**32 - 1
NO_OBSERVE = "this canvas has no observe(): it was deployed before the observer protocol"


class BadRequest(ValueError):
    """Input the API refuses before reading anything: the message says what is wrong and what is expected."""


def parse_whole(name: str, text: str | None, low: int, high: int, example: str) -> int:
    """A decimal whole number in [low, high] from a URL, or BadRequest naming `name`."""
    if text is None or not re.fullmatch(r"[0-9]{1,80}", text):
        raise BadRequest(f"{name} must be a whole number from {low} to {high}, e.g. {example}; got {text!r}")
    value = int(text)
    if not low <= value <= high:
        raise BadRequest(f"{name} must be from {low} to {high}, e.g. {example}; got {value}")
    return value


def parse_cid(text: str) -> str:
    """A CID in a URL: CIDv1, base32, sha2-256 (raw or dag-pb), as the canvas's metadata names them;
    BadRequest for anything else."""
    if not CID_PATTERN.match(text):
        raise BadRequest(f"{text[:80]!r} is not a CID: expected CIDv1 in base32, like bafkrei... (59 characters)")
    body = text[1:].upper()
    try:
        raw = base64.b32decode(body + "=" * (-len(body) % 8))
    except binascii.Error:
        raise BadRequest(f"{text[:80]!r} is not a CIDv1 of a sha2-256 raw or dag-pb block (its base32 does not "
                         "decode)") from None
    if len(raw) != 36 or raw[0] != 1 or raw[1] not in (0x55, 0x70) or raw[2:4] != b"\x12\x20":
        raise BadRequest(f"{text[:80]!r} is not a CIDv1 of a sha2-256 raw or dag-pb block")
    return text


class CidCache:
    """`cat(cid)` through an IPFS client, remembered in memory (least recently used first out)."""

    def __init__(self, ipfs, max_bytes: int = 256 * 1024 * 1024):
        self.ipfs = ipfs
        self.max_bytes = max_bytes
        self._data: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self._ipfs_lock = threading.Lock()  # one request at a time on the client's HTTP session

    def get(self, cid: str) -> bytes | None:
        with self._lock:
            data = self._data.get(cid)
            if data is not None:
                self._data.move_to_end(cid)
            return data

    def cat(self, cid: str) -> bytes:
        data = self.get(cid)
        if data is not None:
            return data
        with self._ipfs_lock:
            data = self.ipfs.cat(cid)
        with self._lock:
            if cid not in self._data and len(data) <= self.max_bytes:
                self._data[cid] = data
                self._size += len(data)
                while self._size > self.max_bytes:
                    _, dropped = self._data.popitem(last=False)
                    self._size -= len(dropped)
        return data


def content_type(data: bytes) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.lstrip()[:1] in (b"{", b"["):
        return "application/json"
    return "application/octet-stream"


def _hue_colour(hue: int, count: int) -> str:
    """The CSS colour of a hue's pool: the middle of its band of degrees."""
    return f"hsl({(hue + 0.5) * 360 / count:.1f}, 75%, 60%)"


class Gallery:
    """The gallery's JSON API over one canvas (and its colour pools, if any)."""

    def __init__(self, canvas, ipfs, pools_address: str | None = None, from_block: int = 0):
        self.canvas = canvas
        self.ipfs = ipfs if isinstance(ipfs, CidCache) else CidCache(ipfs)
        self.pools_address = Web3.to_checksum_address(pools_address) if pools_address else None
        self.from_block = from_block
        self._known: set[str] = set()  # CIDs this canvas's tokens name: the only ones /ipfs/ serves
        self._rows: dict[tuple, list[dict]] = {}  # changed-pixel figures cost a PNG decode: keep them
        self._verdicts: dict[tuple, dict] = {}  # a verdict costs a re-render: kept by what it was computed from
        self._price_points: dict = {}
        self._chain = threading.RLock()  # one web3 session, used by one request at a time
        self._static_config: dict | None = None
        self._ages: dict[int, TokenAges] = {}  # the probe over each token's history, as its page last loaded it
        self._probe_cache = ProbeCache()
        self._domain: dict | None = None

    def _observe_call(self) -> dict:
        if not self._has("observe"):
            return {"observe_selector": None, "observe_inputs": None}
        abi = self.canvas.contract.get_function_by_name("observe").abi
        return {"observe_selector": "0x" + function_abi_to_4byte_selector(abi).hex(),
                "observe_inputs": [{"name": i["name"], "type": i["type"]} for i in abi["inputs"]]}

    def _has(self, name: str) -> bool:
        """Whether the canvas's ABI has the function `name` (a canvas deployed before a feature lacks it)."""
        return any(f.get("type") == "function" and f.get("name") == name for f in self.canvas.contract.abi)

    # ------------------------------------------------------------------ config

    def config(self) -> dict:
        functions = self.canvas.contract.functions
        with self._chain:
            if self._static_config is None:
                self._static_config = {
                    "chain_id": self.canvas.chain_id,
                    "canvas": self.canvas.address,
                    "name": functions.name().call(),
                    "symbol": functions.symbol().call(),
                    "mint_price_wei": str(functions.mintPrice().call()),
                    "max_prompt_bytes": functions.MAX_PROMPT_BYTES().call(),
                    "max_supply": functions.maxSupply().call(),
                    "mint_selector": "0x" + function_abi_to_4byte_selector(
                        self.canvas.contract.get_function_by_name("mint").abi).hex(),
                    "minted_topic": self.canvas.contract.events.Minted().topic,
                    "pools": self.pools_address,
                    # observe()'s selector and inputs, from the ABI: the page encodes the call by input name
                    # (tokenId, generation, signature), so it follows the canvas's own signature.
                    **self._observe_call(),
                }
            return {**self._static_config, "total_minted": functions.totalMinted().call()}

    # ------------------------------------------------------------------ tokens

    def _metadata(self, cid: str) -> dict | None:
        try:
            metadata = json.loads(self.ipfs.cat(cid))
        except (IpfsUnavailable, ValueError):
            return None
        return metadata if isinstance(metadata, dict) else None

    def _summary(self, token_id: int) -> dict:
        functions = self.canvas.contract.functions
        owner = self.canvas.owner_of(token_id)
        item = {"token_id": token_id, "owner": owner, "burnt": owner is None, "generation": None,
                "committed_generation": None, "metadata_cid": None, "image_cid": None, "name": None,
                "prompt": None}
        if owner is not None:
            item["generation"] = functions.generationOf(token_id).call()
            exists, generation, cid = self.canvas.last_commit(token_id)
            if exists:
                item["committed_generation"], item["metadata_cid"] = generation, cid
        else:  # burnt: its last image is still on IPFS, named by its last commit
            commits = self.canvas.commits(token_id, self.from_block)
            if commits:
                item["committed_generation"], item["metadata_cid"] = commits[-1]["generation"], commits[-1]["cid"]
        if item["metadata_cid"]:
            self._known.add(item["metadata_cid"])
            metadata = self._metadata(item["metadata_cid"]) or {}
            image = str(metadata.get("image", "")).removeprefix("ipfs://") or None
            if image:
                self._known.add(image)
            provenance = metadata.get("provenance") or {}
            item.update(image_cid=image, name=metadata.get("name"), prompt=provenance.get("prompt"))
        return item

    def tokens(self, page: int = 0, per_page: int = 48) -> dict:
        """One page of the grid, newest token first. BadRequest for a page or page size out of bounds."""
        if not 0 <= page <= MAX_PAGE or not 1 <= per_page <= MAX_PER_PAGE:
            raise BadRequest(f"page must be from 0 to {MAX_PAGE} and per_page from 1 to {MAX_PER_PAGE}; "
                             f"got page {page}, per_page {per_page}")
        with self._chain:
            total = self.canvas.contract.functions.totalMinted().call()
            first = total - max(page, 0) * per_page
            ids = range(first, max(first - per_page, 0), -1)
            items = [self._summary(token_id) for token_id in ids]
        return {"total": total, "page": page, "per_page": per_page, "tokens": items,
                "more": first - per_page > 0}

    def token(self, token_id: int) -> dict:
        """Every generation of a token (the rows `chaos history` prints) with its image, age layer and palette.
        Raises LookupError for a token never minted."""
        with self._chain:
            history = load_history(self.canvas, self.ipfs, token_id, self.from_block)
            owner = self.canvas.owner_of(token_id)
            try:
                current = self.canvas.contract.functions.generationOf(token_id).call()
            except ContractLogicError:  # burnt
                current = max(history.events)
            seal = self._seal(token_id, history)
        self._ages[token_id] = TokenAges(history, self._probe_cache)
        key = (token_id, tuple(r.metadata_cid for r in history.records),
               tuple((g, e.tx_hash) for g, e in sorted(history.events.items())))
        rows = self._rows.get(key)
        if rows is None:
            rows = self._rows[key] = chain_history_rows(history)
        with self._chain:  # the colour check reads the pools at each event's block
            trust = self._trust(history)
        generations = []
        previous_owner = None
        for row, record in zip(rows, history.records):
            layer = (record.provenance.get("memory") or {}).get("age_layer")
            age = {"cid": layer["cid"], "format": layer.get("format")} if isinstance(layer, dict) and layer.get("cid") else None
            event = history.events.get(record.generation)
            args = event.args if event is not None else {}
            generation = {**row, "kind": row["kind"] or record.provenance.get("kind"),
                          "owner": row["owner"] or previous_owner, "age": age,
                          "trust": trust.get(record.generation),
                          "tx": event.tx_hash if event is not None else None,
                          # What an observation or a reveal added: who observed, what layer was revealed.
                          "observer": args.get("observer"), "layer_prompt": args.get("layer_prompt")}
            previous_owner = generation["owner"]
            self._known.update(c for c in (record.metadata_cid, record.image_cid, age and age["cid"]) if c)
            generations.append(generation)
        mint = history.events[0]
        rendered = {g["generation"] for g in generations}
        return {"token_id": token_id, "owner": owner, "burnt": owner is None, "minter": mint.args["minter"],
                "prompt": mint.args["prompt"], "generation": current,
                "name": (history.records[-1].metadata or {}).get("name") if history.records else None,
                "generations": generations,
                "pending": list(range(max(rendered, default=-1) + 1, current + 1)),  # on-chain, not rendered yet
                "seal": seal,
                "problems": [{"generation": g, "check": check, "detail": detail}
                             for g, check, detail in history.problems]}

    def _seal(self, token_id: int, history) -> dict | None:
        """The token's sealed layer: its commitment and unlock time (sealOf), whether the chain's time has
        passed it, and every reveal among its events with the layer prompt it revealed. None when the canvas
        has no sealed layers, or the token never had one."""
        reveals = [{"generation": e.generation, "layer_prompt": e.args.get("layer_prompt"), "block": e.block_number,
                    "tx": e.tx_hash} for g, e in sorted(history.events.items()) if e.kind == "reveal"]
        if not self._has("sealOf"):
            return {"commitment": None, "unlock_at": None, "sealed": False, "reveals": reveals} if reveals else None
        try:
            commitment, unlock_at, revealed = self.canvas.contract.functions.sealOf(token_id).call()
        except ContractLogicError:  # burnt
            commitment, unlock_at, revealed = bytes(32), 0, False
        pending = any(commitment) and not revealed
        if not pending and not reveals:
            return None
        now = self.canvas.w3.eth.get_block("latest")["timestamp"]
        return {"commitment": "0x" + bytes(commitment).hex() if any(commitment) else None,
                "unlock_at": unlock_at if any(commitment) else None, "sealed": pending,
                "unlockable": pending and now >= unlock_at, "chain_time": now, "reveals": reveals}

    # ------------------------------------------------------------------ the carbon-14 probe

    def probe(self, token_id: int, x: int, y: int, generation: int | None = None) -> dict:
        """The probe's answer for pixel (x, y) of `generation` (default: the latest rendered one).
        BadRequest for a pixel outside the image (naming its size); LookupError for a token or
        generation there is no render of."""
        ages = self._ages.get(token_id)
        if ages is None or (generation is not None and ages.history.record(generation) is None):
            with self._chain:  # the one chain read: this token's history, then kept for the next clicks
                history = load_history(self.canvas, self.ipfs, token_id, self.from_block)
            ages = self._ages[token_id] = TokenAges(history, self._probe_cache)
        if generation is not None and ages.history.record(generation) is None:
            have = ", ".join(str(r.generation) for r in ages.history.records) or "none yet"
            raise LookupError(f"generation {generation} of token {token_id} has no render (rendered: {have})")
        try:
            return ages.probe(x, y, generation).to_dict()
        except OutsideImage as exc:
            raise BadRequest(str(exc)) from None
        except ProbeError as exc:
            raise LookupError(str(exc)) from None

    # ------------------------------------------------------------------ observe

    def observe_request(self, token_id: int) -> dict:
        """What a holder's browser wallet signs to observe the token now (eth_signTypedData_v4): the typed
        data of Observe(tokenId, generation) at the token's current generation, with its owner and the
        canvas's own digest of it. LookupError for a canvas without observe() or a token that has no owner."""
        if not self._has("observe"):
            raise LookupError(NO_OBSERVE)
        functions = self.canvas.contract.functions
        with self._chain:
            owner = self.canvas.owner_of(token_id)
            if owner is None:
                raise LookupError(f"token {token_id} has no owner (never minted, or burnt): no one can observe it")
            generation = functions.generationOf(token_id).call()
            digest = functions.observeDigest(token_id, generation).call() if self._has("observeDigest") else None
            domain = self._eip712_domain()
        typed = observe_typed_data(domain["chainId"], domain["verifyingContract"], token_id, generation)
        typed["domain"] = domain  # the canvas's own, as it checks signatures
        typed["message"]["tokenId"] = str(token_id)  # uint256 as a decimal string: JSON numbers stop at 2**53
        return {"token_id": token_id, "owner": owner, "generation": generation,
                "digest": "0x" + bytes(digest).hex() if digest is not None else None, "typed_data": typed}

    def _eip712_domain(self) -> dict:
        """The canvas's EIP-712 domain: read from eip712Domain() (ERC-5267) when it has one, else the
        documented {name "Chaos Canvas", version "1", chainId, verifyingContract}."""
        if self._domain is None:
            if self._has("eip712Domain"):
                _, name, version, chain_id, contract, _, _ = self.canvas.contract.functions.eip712Domain().call()
                self._domain = {"name": name, "version": version, "chainId": chain_id,
                                "verifyingContract": Web3.to_checksum_address(contract)}
            else:
                self._domain = {"name": "Chaos Canvas", "version": "1", "chainId": self.canvas.chain_id,
                                "verifyingContract": self.canvas.address}
        return self._domain

    def _trust(self, history) -> dict[int, dict]:
        """Each reached generation's badge: renderer.verify's verdict (verified, not checkable, forged with
        the failed checks, unverifiable), cached by what it was computed from (the generation's metadata
        CID, its event's transaction and its parent's CID), all of which a later block cannot change."""
        def key(record):
            event = history.events.get(record.generation)
            parent = history.record(record.generation - 1)
            return (record.metadata_cid, event and event.tx_hash, parent and parent.metadata_cid,
                    record.committed)

        keys = {r.generation: key(r) for r in history.records}
        missing = {g for g, k in keys.items() if k not in self._verdicts}
        if missing:
            for verdict in Verifier(self.canvas, history).verdicts(rerender=True, generations=missing):
                if verdict.generation in keys:
                    self._verdicts[keys[verdict.generation]] = {
                        "status": verdict.status, "note": verdict.note, "commit_tx": verdict.commit_tx,
                        "failed": [{"check": c.name, "detail": c.detail} for c in verdict.failed]}
        return {g: self._verdicts[k] for g, k in keys.items()}

    # ------------------------------------------------------------------ pools

    def pools(self) -> dict:
        """Each hue's price now and the prices after every trade; a plain message when there are no pools."""
        if not self.pools_address:
            return {"pools": None, "message": NO_POOLS, "hues": [], "history": []}
        with self._chain:
            hues = colour_pools.pool_state(self.canvas.w3, self.pools_address)
            history = colour_pools.price_history(self.canvas.w3, self.pools_address, self.from_block,
                                                 cache=self._price_points)
        for hue in hues:
            hue["colour"] = _hue_colour(hue["hue"], len(hues))
            hue["degrees"] = [hue["hue"] * 360 / len(hues), (hue["hue"] + 1) * 360 / len(hues)]
        return {"pools": self.pools_address, "message": None, "hues": hues, "history": history}

    # ------------------------------------------------------------------ bytes by CID

    def age_map(self, cid: str) -> bytes:
        """The age layer `cid` (renderer.memory, a binary format browsers cannot show) drawn as a PNG.
        Raises LookupError for a CID that is not one of this canvas's age layers."""
        data, _ = self.content(cid)
        if file_cid(data) != cid:
            raise LookupError(f"the IPFS node served other bytes for {cid}")
        try:
            return age_png(data)
        except ValueError:
            raise LookupError(f"{cid} is not an age layer") from None

    def content(self, cid: str) -> tuple[bytes, str]:
        """The bytes of a CID one of this canvas's tokens names, and their content type.
        Raises LookupError for any other CID: the gallery is not an open IPFS gateway."""
        if parse_cid(cid) not in self._known:
            raise LookupError(f"{cid} is not a CID of this canvas's tokens")
        data = self.ipfs.cat(cid)
        return data, content_type(data)
