import numpy as np
import pytest

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
