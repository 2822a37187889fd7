"""The canvas's 48-byte commit records, the one packing `commitBatch` takes and
`BatchRenderCommitted` logs back (ChaosCanvas.sol):

    bytes  0..7   token id     (uint64, big-endian)
    bytes  8..15  generation   (uint64, big-endian)
    bytes 16..47  digest       (sha2-256 of the metadata JSON: its CIDv1 raw)
"""

from __future__ import annotations

from typing import NamedTuple

#: ChaosCanvas.BATCH_RECORD_BYTES.
RECORD_BYTES = 48


class CommitRecord(NamedTuple):
    token_id: int
    generation: int
    digest: bytes


def pack_records(records) -> bytes:
    """`commitBatch`'s calldata for (token id, generation, 32-byte digest) triples."""
    out = []
    for token_id, generation, digest in records:
        if not (0 <= token_id < 2**64 and 0 <= generation < 2**64):
            raise ValueError(f"token {token_id} generation {generation}: commitBatch packs both in 64 bits")
        if len(digest) != 32:
            raise ValueError(f"token {token_id} generation {generation}: a digest is 32 bytes, not {len(digest)}")
        out.append(token_id.to_bytes(8, "big") + generation.to_bytes(8, "big") + bytes(digest))
    return b"".join(out)


def unpack_records(data: bytes) -> list[CommitRecord]:
    """The records of a `BatchRenderCommitted` (or of `commitBatch`'s calldata), in order."""
    data = bytes(data)
    if len(data) % RECORD_BYTES:
        raise ValueError(f"{len(data)} bytes is not a whole number of {RECORD_BYTES}-byte commit records")
    return [CommitRecord(int.from_bytes(data[i:i + 8], "big"), int.from_bytes(data[i + 8:i + 16], "big"),
                         data[i + 16:i + RECORD_BYTES]) for i in range(0, len(data), RECORD_BYTES)]
