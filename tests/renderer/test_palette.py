import pytest

from renderer.palette import PALETTE_SIZE, base_palette, hsv_to_rgb, to_hex


@pytest.mark.parametrize("hsv,rgb", [((0, 100, 100), (255, 0, 0)), ((120, 100, 100), (0, 255, 0)),
                                     ((240, 100, 100), (0, 0, 255)), ((0, 0, 100), (255, 255, 255)),
                                     ((60, 100, 100), (255, 255, 0)), ((0, 0, 0), (0, 0, 0))])
def test_hsv_to_rgb(hsv, rgb):
    assert hsv_to_rgb(*hsv) == rgb


def test_palette_is_collapsed_by_the_minter():
    first = base_palette("0x" + "11" * 20)
    assert first == base_palette("0x" + "11" * 20)
    assert first != base_palette("0x" + "12" * 20)
    assert len(first) == PALETTE_SIZE
    assert all(0 <= channel <= 255 for colour in first for channel in colour)
    # dark to light
    assert sum(first[0]) < sum(first[-1])


def test_checksummed_and_lower_case_addresses_agree():
    assert base_palette("0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC") == \
        base_palette("0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc")


def test_palette_rejects_a_non_address():
    with pytest.raises(ValueError, match="not an address"):
        base_palette("0x1234")


def test_hex():
    assert to_hex((255, 0, 16)) == "#ff0010"
