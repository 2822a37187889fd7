import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from renderer.png import decode_png, encode_png


def test_round_trip_is_lossless():
    image = np.random.default_rng(3).integers(0, 256, (17, 23, 3), dtype=np.uint8)
    assert np.array_equal(decode_png(encode_png(image)), image)


def test_encoding_is_deterministic():
    image = np.random.default_rng(4).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    assert encode_png(image) == encode_png(image.copy())


def test_rejects_anything_but_rgb_bytes():
    with pytest.raises(ValueError, match="uint8"):
        encode_png(np.zeros((4, 4, 4), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        encode_png(np.zeros((4, 4, 3), np.float32))


def _rle(data):
    compressor = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_RLE)
    return compressor.compress(data) + compressor.flush()


def _plain_encode(image, deflate=_rle):
    """The encoder's rule written plainly: Sub filter on every row, zlib's run-length strategy."""
    height, width, _ = image.shape
    rows = image.reshape(height, width * 3).astype(np.int16)
    sub = rows.copy()
    sub[:, 3:] -= rows[:, :-3]
    filtered = np.empty((height, width * 3 + 1), dtype=np.uint8)
    filtered[:, 0] = 1
    filtered[:, 1:] = (sub & 0xFF).astype(np.uint8)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", deflate(filtered.tobytes()))
            + chunk(b"IEND", b""))


@pytest.mark.parametrize("shape", [(1, 1, 3), (5, 1, 3), (1, 9, 3), (64, 48, 3), (256, 256, 3)])
def test_bytes_are_the_documented_rule_and_decode_back(shape):
    image = np.random.default_rng(shape[0] * shape[1]).integers(0, 256, shape, dtype=np.uint8)
    data = encode_png(image)
    assert data == _plain_encode(image)
    assert np.array_equal(decode_png(data), image)
    # What earlier renderers wrote (level 9) reads as the same pixels.
    assert np.array_equal(decode_png(_plain_encode(image, lambda raw: zlib.compress(raw, 9))), image)


def test_other_pngs_decode_through_pillow():
    image = np.random.default_rng(8).integers(0, 256, (13, 7, 3), dtype=np.uint8)
    for options in ({}, {"optimize": True}, {"compress_level": 0}):  # Pillow picks filters per row
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG", **options)
        assert np.array_equal(decode_png(buffer.getvalue()), image)
    grey = io.BytesIO()
    Image.fromarray(image[..., 0]).save(grey, format="PNG")
    assert np.array_equal(decode_png(grey.getvalue()), np.repeat(image[..., :1], 3, axis=2))


def test_a_damaged_png_is_not_read_as_pixels():
    data = bytearray(encode_png(np.zeros((4, 4, 3), np.uint8)))
    data[40] ^= 0xFF  # inside the IDAT: its CRC no longer matches
    with pytest.raises(Exception):
        decode_png(bytes(data))
