"""The 48-byte commit records commitBatch takes and BatchRenderCommitted logs back."""

import pytest

from renderer.commit_records import RECORD_BYTES, CommitRecord, pack_records, unpack_records


def test_layout_is_big_endian_token_generation_digest():
    digest = bytes(range(32))
    packed = pack_records([(0x0102030405060708, 0x1112131415161718, digest)])
    assert packed == bytes.fromhex("0102030405060708" "1112131415161718") + digest
    assert len(packed) == RECORD_BYTES


def test_round_trip_keeps_order_and_values():
    records = [(1, 0, b"\x00" * 32), (2**64 - 1, 2**64 - 1, b"\xff" * 32), (7, 3, bytes(range(32)))]
    assert unpack_records(pack_records(records)) == [CommitRecord(*r) for r in records]
    assert unpack_records(b"") == []


@pytest.mark.parametrize("record", [(2**64, 0, bytes(32)), (0, 2**64, bytes(32)), (-1, 0, bytes(32))])
def test_values_beyond_64_bits_are_refused(record):
    with pytest.raises(ValueError, match="packs both in 64 bits"):
        pack_records([record])


def test_a_digest_is_32_bytes():
    with pytest.raises(ValueError, match="a digest is 32 bytes, not 31"):
        pack_records([(1, 0, bytes(31))])


@pytest.mark.parametrize("length", [1, 47, 49, 95])
def test_a_partial_record_is_refused(length):
    with pytest.raises(ValueError, match=f"{length} bytes is not a whole number of 48-byte"):
        unpack_records(bytes(length))
