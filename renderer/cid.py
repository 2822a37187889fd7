"""Content identifiers computed locally, to check what an IPFS node returns.

The layout is the one `ipfs add --cid-version=1 --raw-leaves` produces with
the default chunker (Kubo and js-ipfs agree on it):

- a file of at most 256 KiB is one raw block: CIDv1(raw, sha2-256(bytes));
- a larger file is cut into 256 KiB raw leaves, gathered into UnixFS dag-pb
  nodes of at most 174 links, level by level (the balanced layout), and the
  CID is CIDv1(dag-pb, sha2-256(root node)).

CIDs are written in base32 ("b" + RFC 4648 lower case, no padding).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from .errors import ChaosError

CHUNK_SIZE = 256 * 1024
MAX_LINKS = 174
RAW = 0x55
DAG_PB = 0x70
SHA2_256 = 0x12
UNIXFS_FILE = 2


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, wire_type: int) -> bytes:
    return _varint((number << 3) | wire_type)


def _bytes_field(number: int, payload: bytes) -> bytes:
    return _field(number, 2) + _varint(len(payload)) + payload


def cid_bytes(codec: int, block: bytes) -> bytes:
    return _varint(1) + _varint(codec) + bytes([SHA2_256, 32]) + hashlib.sha256(block).digest()


def cid_to_str(raw_cid: bytes) -> str:
    return "b" + base64.b32encode(raw_cid).decode("ascii").lower().rstrip("=")


class UnsupportedCid(ChaosError, ValueError):
    """A CID the canvas cannot commit: it stores only sha2-256 digests of CIDv1 raw blocks."""


def raw_sha256_digest(cid: str) -> bytes:
    """The 32-byte sha2-256 digest named by a CIDv1 raw (codec 0x55) CID, the only kind the
    canvas commits (it keeps the digest and rebuilds the base32 CID on-chain)."""
    try:
        raw = _base32_decode(normalise(cid))
    except ValueError:
        raw = b""
    prefix = bytes([1, RAW, SHA2_256, 32])
    if len(raw) != 36 or raw[:4] != prefix:
        raise UnsupportedCid(f"{cid!r} is not a CIDv1 raw sha2-256 CID (bafkrei...): the canvas commits only "
                             "metadata pinned as one raw block (JSON of at most 256 KiB, added with raw leaves)")
    return raw[4:]


def raw_cid_of_digest(digest: bytes) -> str:
    """The base32 CIDv1 raw sha2-256 of a 32-byte digest (inverse of raw_sha256_digest)."""
    if len(digest) != 32:
        raise ValueError(f"a sha2-256 digest has 32 bytes, not {len(digest)}")
    return cid_to_str(bytes([1, RAW, SHA2_256, 32]) + bytes(digest))


def _base32_decode(cid: str) -> bytes:
    body = cid[1:]
    if not cid.startswith("b") or body != body.lower():
        raise ValueError(cid)
    try:
        return base64.b32decode(body.upper() + "=" * (-len(body) % 8))
    except (ValueError, base64.binascii.Error):
        raise ValueError(cid) from None


@dataclass(frozen=True)
class _Node:
    cid: bytes
    file_size: int  # bytes of file content below this node
    tree_size: int  # bytes of all blocks below and including this node (a link's Tsize)


def _leaf(chunk: bytes) -> _Node:
    return _Node(cid_bytes(RAW, chunk), len(chunk), len(chunk))


def _parent(children: list[_Node]) -> _Node:
    unixfs = _field(1, 0) + _varint(UNIXFS_FILE)
    unixfs += _field(3, 0) + _varint(sum(c.file_size for c in children))
    for child in children:
        unixfs += _field(4, 0) + _varint(child.file_size)
    # dag-pb's canonical form: every link (field 2) first, then the data (field 1).
    block = b""
    for child in children:
        link = _bytes_field(1, child.cid) + _bytes_field(2, b"") + _field(3, 0) + _varint(child.tree_size)
        block += _bytes_field(2, link)
    block += _bytes_field(1, unixfs)
    return _Node(cid_bytes(DAG_PB, block), sum(c.file_size for c in children),
                 len(block) + sum(c.tree_size for c in children))


def file_cid(data: bytes) -> str:
    """The CIDv1 (base32) that `ipfs add --cid-version=1 --raw-leaves` gives `data`."""
    if len(data) <= CHUNK_SIZE:
        return cid_to_str(cid_bytes(RAW, data))
    view = memoryview(data)  # leaves hashed where they lie, not copied out first
    level = [_leaf(view[i:i + CHUNK_SIZE]) for i in range(0, len(data), CHUNK_SIZE)]
    while len(level) > 1:
        level = [_parent(level[i:i + MAX_LINKS]) for i in range(0, len(level), MAX_LINKS)]
    return cid_to_str(level[0].cid)


_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _base58_decode(text: str) -> bytes:
    number = 0
    for char in text:
        number = number * 58 + _BASE58.index(char)
    body = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return b"\x00" * (len(text) - len(text.lstrip("1"))) + body


def normalise(cid: str) -> str:
    """Any CID a node prints (CIDv0 "Qm…", base58btc "z…", base32 "b…") as CIDv1 base32.

    Nodes list pins in their own default base; comparing sets needs one spelling.
    """
    if cid.startswith("b"):
        return cid
    if cid.startswith("z"):
        return cid_to_str(_base58_decode(cid[1:]))
    if cid.startswith("Qm") and len(cid) == 46:  # CIDv0: a bare sha2-256 multihash of a dag-pb block
        return cid_to_str(_varint(1) + _varint(DAG_PB) + _base58_decode(cid))
    raise ValueError(f"unrecognised CID {cid!r}")
